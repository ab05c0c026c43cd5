package main

// TLS flags, as grpcurl spells them: --tls, --cacert, --cert, --key and
// --insecure on the client side (send, emit, bench; over NATS they apply
// to the connection to the NATS server); --tls-cert, --tls-key and
// --tls-client-ca on serve.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/msgpattern/msgpattern/rpc"
	"github.com/msgpattern/msgpattern/wire"
)

// clientTLS are the client side's TLS flags.
type clientTLS struct {
	enable    bool
	cacert    string
	cert, key string
	insecure  bool
}

func (t *clientTLS) bind(fs *flag.FlagSet) {
	fs.BoolVar(&t.enable, "tls", false, "connect with TLS, verifying the server's certificate with the system's CAs (implied by --cacert, --cert and --insecure)")
	fs.StringVar(&t.cacert, "cacert", "", "verify the server's certificate with the CA certificates in `FILE` (PEM) instead of the system's")
	fs.StringVar(&t.cert, "cert", "", "present the client certificate in `FILE` (PEM), for mutual TLS; with --key")
	fs.StringVar(&t.key, "key", "", "the private key of --cert, in `FILE` (PEM)")
	fs.BoolVar(&t.insecure, "insecure", false, "connect with TLS without verifying the server's certificate (NOT SECURE: for tests)")
}

// config returns the TLS configuration the flags ask for, nil for none.
func (t *clientTLS) config() (*tls.Config, error) {
	if (t.cert == "") != (t.key == "") {
		return nil, errors.New("give --cert and --key together")
	}
	if !t.enable && t.cacert == "" && t.cert == "" && !t.insecure {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.insecure}
	if t.cacert != "" {
		pool, err := loadCAs("--cacert", t.cacert)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if t.cert != "" {
		cert, err := tls.LoadX509KeyPair(t.cert, t.key)
		if err != nil {
			return nil, fmt.Errorf("--cert %s --key %s: %w", t.cert, t.key, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// wsaECONNRESET is Winsock's "connection reset by peer", what a reset
// reads as on Windows: syscall.ECONNRESET is a value of Go's own there,
// which no read returns. No other system has an errno this large.
const wsaECONNRESET syscall.Errno = 10054

// connReset reports whether err is the peer's reset of the connection.
func connReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, wsaECONNRESET)
}

// hint suggests the flags that may fix a call's failure err, "" when
// it is not about TLS.
func (t *clientTLS) hint(err error, cfg *tls.Config) string {
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return "give the CA that issued the server's certificate with --cacert FILE"
	}
	// The server's TLS alert, as crypto/tls reports it.
	if op, ok := errors.AsType[*net.OpError](err); ok && op.Op == "remote error" && t.cert == "" &&
		(strings.HasSuffix(op.Err.Error(), "certificate required") || strings.HasSuffix(op.Err.Error(), "bad certificate")) {
		return "the server wants a client certificate: give it with --cert FILE --key FILE"
	}
	if cfg != nil && errors.Is(err, rpc.ErrUnavailable) && (errors.Is(err, io.EOF) || connReset(err)) {
		// Closed during the handshake: the server did not take a ClientHello.
		return "the server closed the connection during the TLS handshake; if it does not serve TLS, connect without --tls and --cacert"
	}
	switch {
	case !errors.Is(err, rpc.ErrConnectionLost):
	case errors.Is(err, wire.ErrFrameTooLarge):
		// The client closed it: the reply is over its frame limit.
		return "the reply is longer than this client takes (16 Mi UTF-16 units)"
	case errors.Is(err, wire.ErrCorruptLength) || errors.Is(err, wire.ErrSplitSurrogate):
		// The client closed it: what came back is not NestJS framing.
		if cfg == nil {
			return "the server answered with bytes that are not NestJS TCP frames (<length>#<json>): is it a NestJS-compatible TCP server? If it serves TLS, connect with --tls or --cacert FILE"
		}
		return "the server answered with bytes that are not NestJS TCP frames (<length>#<json>): is it a NestJS-compatible TCP server?"
	case cfg == nil:
		return "the server closed the connection without a reply; if it serves TLS, connect with --tls or --cacert FILE; a request over its frame size limit (16 Mi UTF-16 units by default) is closed so too"
	case t.cert == "": // the alert may be lost in the race with the close
		return "the server closed the connection without a reply; if it wants a client certificate, give it with --cert FILE --key FILE; a request over its frame size limit (16 Mi UTF-16 units by default) is closed so too"
	default:
		return "the server closed the connection without a reply; a request over its frame size limit (16 Mi UTF-16 units by default) is closed so"
	}
	return ""
}

// serverTLS are serve's TLS flags.
type serverTLS struct {
	cert, key string
	clientCA  string
}

func (t *serverTLS) bind(fs *flag.FlagSet) {
	fs.StringVar(&t.cert, "tls-cert", "", "serve TLS with the certificate (chain) in `FILE` (PEM); with --tls-key")
	fs.StringVar(&t.key, "tls-key", "", "the private key of --tls-cert, in `FILE` (PEM)")
	fs.StringVar(&t.clientCA, "tls-client-ca", "", "require client certificates issued by the CAs in `FILE` (PEM): mutual TLS")
}

// config returns the TLS configuration the flags ask for, nil for none.
func (t *serverTLS) config() (*tls.Config, error) {
	switch {
	case (t.cert == "") != (t.key == ""):
		return nil, errors.New("give --tls-cert and --tls-key together")
	case t.cert == "" && t.clientCA != "":
		return nil, errors.New("--tls-client-ca needs --tls-cert and --tls-key")
	case t.cert == "":
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.cert, t.key)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s --tls-key %s: %w", t.cert, t.key, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.clientCA != "" {
		if cfg.ClientCAs, err = loadCAs("--tls-client-ca", t.clientCA); err != nil {
			return nil, err
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// loadCAs reads the PEM certificates in file, named by flag in errors.
func loadCAs(flag, file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s %s: no PEM certificate in it", flag, file)
	}
	return pool, nil
}
