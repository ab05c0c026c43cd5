package rpc_test

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"hash"
	"net"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/msgpattern/msgpattern/internal/lockedbuf"
	"github.com/msgpattern/msgpattern/rpc"
)

// keyUpdater seals the client's records after the handshake and sends TLS
// 1.3 KeyUpdate messages, rotating its own keys as RFC 8446 4.6.3 says.
type keyUpdater struct {
	t       *testing.T
	h       func() hash.Hash
	keyLen  int
	newAEAD func(key []byte) (cipher.AEAD, error)
	secret  []byte
	w       *rawTLS13Writer
}

// newAESGCM is the AEAD of the TLS_AES_*_GCM_* suites.
func newAESGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (k *keyUpdater) setSecret(secret []byte) {
	k.secret = secret
	aead, err := k.newAEAD(expandLabel(k.t, k.h, secret, "key", k.keyLen))
	if err != nil {
		k.t.Fatal(err)
	}
	seq := uint64(0)
	if k.w != nil && k.w.aead == nil {
		seq = k.w.seq
	}
	k.w = &rawTLS13Writer{nc: k.w.nc, aead: aead, iv: expandLabel(k.t, k.h, secret, "iv", 12), seq: seq}
}

// keyUpdate returns a KeyUpdate record asking the server to update too,
// and switches to the next key.
func (k *keyUpdater) keyUpdate() []byte {
	rec := k.w.record(22, []byte{24, 0, 0, 1, 1})
	k.setSecret(expandLabel(k.t, k.h, k.secret, "traffic upd", k.h().Size()))
	return rec
}

// dialTLS13Raw completes a TLS 1.3 handshake over a raw connection and
// returns the tls.Conn (to read with), the raw connection, and a keyUpdater
// sealing the client's records with its traffic key (sequence 0: set k.w.seq
// after application records written through tc).
func dialTLS13Raw(t *testing.T, s *rpc.Server, p *testPKI) (*tls.Conn, net.Conn, *keyUpdater) {
	t.Helper()
	raw, err := net.DialTimeout("tcp", s.Addr().String(), ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	kl := &lockedbuf.Buffer{}
	cfg := p.clientConfig(nil)
	cfg.ServerName = "127.0.0.1"
	cfg.MinVersion = tls.VersionTLS13
	cfg.KeyLogWriter = kl
	tc := tls.Client(raw, cfg)
	raw.SetDeadline(time.Now().Add(ioTimeout))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	raw.SetDeadline(time.Time{})
	k := &keyUpdater{t: t, w: &rawTLS13Writer{nc: raw}}
	switch cs := tc.ConnectionState().CipherSuite; cs {
	case tls.TLS_AES_128_GCM_SHA256:
		k.h, k.keyLen, k.newAEAD = sha256.New, 16, newAESGCM
	case tls.TLS_AES_256_GCM_SHA384:
		k.h, k.keyLen, k.newAEAD = sha512.New384, 32, newAESGCM
	case tls.TLS_CHACHA20_POLY1305_SHA256: // crypto/tls's choice on a CPU without AES instructions
		k.h, k.keyLen, k.newAEAD = sha256.New, chacha20poly1305.KeySize, chacha20poly1305.New
	default:
		t.Fatalf("cipher suite %s: not one of TLS 1.3's", tls.CipherSuiteName(cs))
	}
	k.setSecret(keyLogSecret(t, kl.String(), "CLIENT_TRAFFIC_SECRET_0"))
	return tc, raw, k
}

// TestTLSKeyUpdateAfterQuietKeepsConnection: a TLS 1.3 peer may send a
// KeyUpdate asking the server to update its keys too, at any time; crypto/tls
// answers it from inside Read, with whatever write deadline the connection
// has. The server's write deadline stays armed after its last reply (now +
// WriteTimeout): a KeyUpdate that comes later than that finds it in the
// past, the answer fails, crypto/tls keeps the error for the next write, and
// the next reply breaks the connection — the honest peer loses its call.
func TestTLSKeyUpdateAfterQuietKeepsConnection(t *testing.T) {
	const writeTimeout = 200 * time.Millisecond
	p := newTestPKI(t)
	s, _ := startServer(t, rpc.Config{TLSConfig: p.serverConfig(false), WriteTimeout: writeTimeout},
		func(s *rpc.Server) { registerProbe(s) })
	tc, raw, k := dialTLS13Raw(t, s, p)
	br := bufio.NewReader(tc)

	// One call through tls.Conn: one application record (sequence 0).
	tc.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := tc.Write([]byte(reqFrame(`"sum"`, `[20,22]`, `"1"`))); err != nil {
		t.Fatal(err)
	}
	if got, err := readNestFrame(br); err != nil || got != valueReply(`42`, `"1"`) {
		t.Fatalf("first call: %q, %v", got, err)
	}
	k.w.seq = 1

	time.Sleep(600 * time.Millisecond) // quiet for longer than WriteTimeout

	out := k.keyUpdate()
	out = append(out, k.w.record(23, []byte(reqFrame(`"sum"`, `[1,2]`, `"2"`)))...)
	raw.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := raw.Write(out); err != nil {
		t.Fatal(err)
	}
	tc.SetReadDeadline(time.Now().Add(ioTimeout))
	got, err := readNestFrame(br)
	if err != nil || got != valueReply(`3`, `"2"`) {
		m := s.GetMetrics()
		t.Fatalf("the call after a KeyUpdate (sent %v after the last reply, WriteTimeout %v): %q, %v (slow_consumer %d, active %d)",
			600*time.Millisecond, writeTimeout, got, err, m.Limits.SlowConsumers, m.ActiveConnections)
	}
}
