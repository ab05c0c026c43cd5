package rpc_test

// TLS: Config.TLSConfig makes Start serve TLS, with the same framing inside
// it. The certificates are made here, in memory: a CA, a server certificate
// for 127.0.0.1, ::1 and localhost, and client certificates for mutual TLS.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// ---------------------------------------------------------------------------
// Certificates.

// testCA is a certificate authority that issues leaf certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool // holds just this CA
}

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("creating CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parsing CA certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// serverCert issues a certificate for 127.0.0.1, ::1 and localhost: Go and
// Node.js clients dialing an IP address check it against the IP SANs.
func (ca *testCA) serverCert(t testing.TB) tls.Certificate {
	return ca.issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
}

// clientCert issues a certificate for TLS client authentication.
func (ca *testCA) clientCert(t testing.TB, name string) tls.Certificate {
	return ca.issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

func (ca *testCA) issue(t testing.TB, tmpl *x509.Certificate) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl.SerialNumber = newSerial(t)
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("issuing certificate for %q: %v", tmpl.Subject.CommonName, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parsing certificate: %v", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating key: %v", err)
	}
	return key
}

func newSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("generating serial number: %v", err)
	}
	return n
}

// testPKI is what a TLS test needs: a CA, the server's certificate and a
// client certificate, all issued by that CA.
type testPKI struct {
	ca     *testCA
	server tls.Certificate
	client tls.Certificate
}

func newTestPKI(t testing.TB) *testPKI {
	ca := newTestCA(t, "msgpattern test CA")
	return &testPKI{ca: ca, server: ca.serverCert(t), client: ca.clientCert(t, "test client")}
}

// serverConfig is the server's TLS configuration; with mutual, clients must
// present a certificate issued by the CA.
func (p *testPKI) serverConfig(mutual bool) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
	if mutual {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = p.ca.pool
	}
	return cfg
}

// clientConfig trusts the CA and presents cert, if any. ServerName is left
// to tls.Dialer, which takes it from the address: 127.0.0.1, an IP SAN.
func (p *testPKI) clientConfig(cert *tls.Certificate) *tls.Config {
	cfg := &tls.Config{RootCAs: p.ca.pool}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return cfg
}

// ---------------------------------------------------------------------------
// Helpers.

// startTLSServer starts a server with the probe handlers that serves TLS,
// mutual or not, dropping peers that stall for frameTimeout.
func startTLSServer(t *testing.T, p *testPKI, mutual bool, frameTimeout time.Duration) *rpc.Server {
	t.Helper()
	s, _ := startServer(t, rpc.Config{
		RateLimitPerSec: -1,
		RetryAttempts:   -1,
		FrameTimeout:    frameTimeout,
		TLSConfig:       p.serverConfig(mutual),
	}, func(s *rpc.Server) { registerProbe(s) })
	return s
}

// dialTLS connects to s and completes the TLS handshake. The connection is
// closed at cleanup.
func dialTLS(t testing.TB, s *rpc.Server, cfg *tls.Config) (*client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
	nc, err := d.DialContext(ctx, "tcp", s.Addr().String())
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, br: bufio.NewReader(nc)}, nil
}

// mustDialTLS is dialTLS failing the test on error.
func mustDialTLS(t testing.TB, s *rpc.Server, cfg *tls.Config) *client {
	t.Helper()
	c, err := dialTLS(t, s, cfg)
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	return c
}

// expectDropped asserts that the server closes c within closeTimeout without
// a reply. A TLS alert record (content type 21) is the only thing it may
// send first: a server that rejects a handshake may say why.
func (c *client) expectDropped() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(closeTimeout))
	b, err := io.ReadAll(c.br)
	if len(b) > 0 && b[0] != 21 {
		c.t.Errorf("got %q before the close, want nothing or a TLS alert", clip(string(b)))
	}
	switch {
	case err == nil, closedErr(err):
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.t.Fatalf("connection still open after %v; expected the server to drop it", closeTimeout)
	default:
		c.t.Fatalf("unexpected read error waiting for the close: %v", err)
	}
}

// expectTLSFailure asserts that a TLS client's connection attempt failed:
// either the handshake (dialErr), or, under TLS 1.3 where the client
// finishes its handshake before the server has checked the client's
// certificate, the first request on the connection.
func expectTLSFailure(t *testing.T, c *client, dialErr error) {
	t.Helper()
	if dialErr != nil {
		t.Logf("handshake failed as expected: %v", dialErr)
		return
	}
	c.write(reqFrame(`"sum"`, `[1,2]`, `"x"`))
	f, err := c.readFrameErr(closeTimeout)
	switch {
	case err == nil:
		t.Fatalf("server answered %q; want the connection refused", f)
	case errors.Is(err, os.ErrDeadlineExceeded):
		t.Fatalf("no answer and no close within %v; want the connection refused", closeTimeout)
	}
	t.Logf("connection refused as expected after the handshake: %v", err)
}

// ---------------------------------------------------------------------------
// Tests.

// TestTLSRoundTrip: requests and replies over TLS and mutual TLS, in both
// framings and both TLS versions, byte for byte as over plain TCP.
func TestTLSRoundTrip(t *testing.T) {
	p := newTestPKI(t)
	large := strings.Repeat("0123456789abcdef", 6<<10) // 96 KiB: several TLS records
	for _, tc := range []struct {
		name       string
		mutual     bool
		version    uint16
		serverName string // empty: the dialed IP address
		line       bool
	}{
		{name: "TLS1.3/nest", version: tls.VersionTLS13},
		{name: "TLS1.3/line", version: tls.VersionTLS13, line: true},
		{name: "TLS1.2/nest", version: tls.VersionTLS12},
		{name: "TLS1.2/line", version: tls.VersionTLS12, line: true},
		{name: "TLS1.3/nest/localhost", version: tls.VersionTLS13, serverName: "localhost"},
		{name: "mTLS1.3/nest", mutual: true, version: tls.VersionTLS13},
		{name: "mTLS1.3/line", mutual: true, version: tls.VersionTLS13, line: true},
		{name: "mTLS1.2/nest", mutual: true, version: tls.VersionTLS12},
		{name: "mTLS1.2/line", mutual: true, version: tls.VersionTLS12, line: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startTLSServer(t, p, tc.mutual, 0)
			var cert *tls.Certificate
			if tc.mutual {
				cert = &p.client
			}
			cfg := p.clientConfig(cert)
			cfg.MinVersion, cfg.MaxVersion, cfg.ServerName = tc.version, tc.version, tc.serverName
			c := mustDialTLS(t, s, cfg)
			if st := c.nc.(*tls.Conn).ConnectionState(); st.Version != tc.version {
				t.Fatalf("negotiated %s, want %s", tls.VersionName(st.Version), tls.VersionName(tc.version))
			}

			if tc.line {
				c.write(`{"pattern":"sum","data":[20,22],"id":1}` + "\n")
				if got, want := c.readLine(), `{"response":42,"isDisposed":true,"id":1}`+"\n"; got != want {
					t.Fatalf("line reply mismatch\n got: %q\nwant: %q", got, want)
				}
				c.write(`{"pattern":"echo","data":"` + large + `","id":"big"}` + "\n")
				if got, want := c.readLine(), `{"response":"`+large+`","isDisposed":true,"id":"big"}`+"\n"; got != want {
					t.Fatalf("large line reply mismatch: got %d bytes %q, want %d bytes", len(got), clip(got), len(want))
				}
			} else {
				c.call(`"sum"`, `[20,22]`, `1`, valueReply(`42`, `1`))
				c.call(`"echo"`, `"`+large+`"`, `"big"`, valueReply(`"`+large+`"`, `"big"`))
				c.write(reqFrame(`"obs3"`, `{}`, `"s"`))
				c.expectFrame(partReply(`1`, `"s"`))
				c.expectFrame(partReply(`2`, `"s"`))
				// The completion rides on the last value unless that value was
				// flushed first (the handler was handed off on a slow run).
				if got := c.readFrame(); got == partReply(`3`, `"s"`) {
					c.expectFrame(frame(`{"isDisposed":true,"id":"s"}`))
				} else if got != valueReply(`3`, `"s"`) {
					t.Fatalf("last stream frame %q", got)
				}
			}
			c.expectQuiet()
			if m := s.GetMetrics(); m.ErrorByKind.Framing != 0 {
				t.Errorf("errors_by_kind.framing = %d, want 0", m.ErrorByKind.Framing)
			}
		})
	}
}

// TestTLSRejectedPeers: peers that cannot or will not complete the
// handshake of a mutual-TLS server are dropped, at once or after
// FrameTimeout, and counted (framing); a good client connected beside them
// is served before, during and after.
func TestTLSRejectedPeers(t *testing.T) {
	p := newTestPKI(t)
	// Peers that send something the server can judge are rejected at once:
	// their server's FrameTimeout is long, so a close within closeTimeout
	// shows that the timeout played no part. Peers that stall are dropped at
	// a short FrameTimeout, which also bounds the honest client's handshake:
	// short, but not so short that a loaded machine (-race, 2 cores) misses
	// it (at 300 ms the bystander's handshake was cut once).
	const (
		long  = time.Minute
		short = time.Second
	)
	for _, tc := range []struct {
		name         string
		frameTimeout time.Duration
		peer         func(t *testing.T, s *rpc.Server)
	}{
		{"no client certificate/TLS1.3", long, func(t *testing.T, s *rpc.Server) {
			cfg := p.clientConfig(nil)
			cfg.MinVersion = tls.VersionTLS13
			c, err := dialTLS(t, s, cfg)
			expectTLSFailure(t, c, err)
		}},
		{"no client certificate/TLS1.2", long, func(t *testing.T, s *rpc.Server) {
			cfg := p.clientConfig(nil)
			cfg.MaxVersion = tls.VersionTLS12
			_, err := dialTLS(t, s, cfg)
			if err == nil {
				t.Fatal("TLS 1.2 handshake without a client certificate succeeded; want it refused")
			}
		}},
		{"client certificate of another CA", long, func(t *testing.T, s *rpc.Server) {
			cert := newTestCA(t, "stranger CA").clientCert(t, "stranger")
			cfg := p.clientConfig(nil)
			// Sent even though the server asks for another CA's (a Go
			// client would otherwise send no certificate at all).
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
			c, err := dialTLS(t, s, cfg)
			expectTLSFailure(t, c, err)
		}},
		{"client does not trust the server", long, func(t *testing.T, s *rpc.Server) {
			cfg := p.clientConfig(&p.client)
			cfg.RootCAs = newTestCA(t, "other CA").pool
			_, err := dialTLS(t, s, cfg)
			var unknown x509.UnknownAuthorityError
			if !errors.As(err, &unknown) {
				t.Fatalf("dial error = %v, want x509.UnknownAuthorityError", err)
			}
		}},
		{"plaintext NestJS frame", long, func(t *testing.T, s *rpc.Server) {
			c := dial(t, s)
			c.write(reqFrame(`"sum"`, `[1,2]`, `"x"`))
			c.expectDropped()
		}},
		{"plaintext line", long, func(t *testing.T, s *rpc.Server) {
			c := dial(t, s)
			c.write(`{"pattern":"sum","data":[1,2],"id":1}` + "\n")
			c.expectDropped()
		}},
		{"plaintext shorter than a record header", short, func(t *testing.T, s *rpc.Server) {
			c := dial(t, s)
			c.write(`2#{}`)
			c.expectDropped()
		}},
		{"TCP only, no handshake", short, func(t *testing.T, s *rpc.Server) {
			c := dial(t, s)
			c.expectDropped()
		}},
		{"ClientHello cut short", short, func(t *testing.T, s *rpc.Server) {
			c := dial(t, s)
			// A handshake record announcing 512 bytes, of which 4 come.
			c.write("\x16\x03\x01\x02\x00\x01\x00\x01\xfc")
			c.expectDropped()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startTLSServer(t, p, true, tc.frameTimeout)
			good := mustDialTLS(t, s, p.clientConfig(&p.client))
			bystanderCheck(t, good, "before")

			start := time.Now()
			tc.peer(t, s)
			waitMetric(t, s, "errors_by_kind.framing", 1, func(m rpc.Metrics) uint64 { return m.ErrorByKind.Framing })
			if elapsed := time.Since(start); tc.frameTimeout == short && elapsed < short {
				// The server's clock started after our dial: it cannot
				// have dropped a stalled peer sooner than this.
				t.Errorf("stalled peer dropped after %v, before FrameTimeout %v", elapsed, short)
			}

			bystanderCheck(t, good, "after")
			waitMetric(t, s, "active_connections", 1, func(m rpc.Metrics) int64 { return m.ActiveConnections })
			if m := s.GetMetrics(); m.TotalConnections != 2 {
				t.Errorf("total_connections = %d, want 2", m.TotalConnections)
			}
		})
	}
}

// TestTLSShutdownDuringHandshake: Shutdown does not wait FrameTimeout for a
// peer that never completes its handshake.
func TestTLSShutdownDuringHandshake(t *testing.T) {
	p := newTestPKI(t)
	s, stop := startServer(t, rpc.Config{
		RateLimitPerSec: -1,
		RetryAttempts:   -1,
		FrameTimeout:    time.Minute,
		TLSConfig:       p.serverConfig(true),
	}, nil)
	c := dial(t, s)
	c.write("\x16\x03\x01") // the start of a record header, then nothing
	waitMetric(t, s, "active_connections", 1, func(m rpc.Metrics) int64 { return m.ActiveConnections })

	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if elapsed := time.Since(start); elapsed > closeTimeout {
		t.Errorf("Shutdown took %v with a handshake pending, want well under FrameTimeout", elapsed)
	}
	c.expectDropped()
	if m := s.GetMetrics(); m.ErrorByKind.Framing != 0 {
		t.Errorf("errors_by_kind.framing = %d after Shutdown interrupted a handshake, want 0", m.ErrorByKind.Framing)
	}
}

// TestTLSMaxConnectionsCountsHandshakes: a connection takes a slot of
// MaxConnections from accept, before its handshake, and gives it back when
// it goes.
func TestTLSMaxConnectionsCountsHandshakes(t *testing.T) {
	p := newTestPKI(t)
	s, _ := startServer(t, rpc.Config{
		RateLimitPerSec: -1,
		RetryAttempts:   -1,
		MaxConnections:  1,
		TLSConfig:       p.serverConfig(false),
	}, func(s *rpc.Server) { registerProbe(s) })
	idle := dial(t, s) // no handshake: holds the only slot
	waitMetric(t, s, "active_connections", 1, func(m rpc.Metrics) int64 { return m.ActiveConnections })

	if _, err := dialTLS(t, s, p.clientConfig(nil)); err == nil {
		t.Fatal("TLS dial succeeded beyond MaxConnections; want it refused")
	}
	waitMetric(t, s, "rejected_connections", 1, func(m rpc.Metrics) uint64 { return m.RejectedConnections })

	idle.close()
	waitMetric(t, s, "active_connections", 0, func(m rpc.Metrics) int64 { return m.ActiveConnections })
	c := mustDialTLS(t, s, p.clientConfig(nil))
	for i := range 3 {
		id := strconv.Itoa(i)
		c.call(`"sum"`, `[`+id+`,1]`, id, valueReply(strconv.Itoa(i+1), id))
	}
}
