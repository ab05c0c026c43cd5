package rpc

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/testcert"
)

// TestTLSWriteFailedByTimeoutEndsTheConnection: crypto/tls answers a
// KeyUpdate from inside Read; when that answer's write times out (a peer
// that reads nothing), handleKeyUpdate keeps the error for the next Write
// and Read goes on to the next record. If the KeyUpdate was the last thing
// the peer sent, that next read is handshakeCapped.Read, which now returns
// the write's failure: a *tlsWriteError whose cause is the write's
// os.ErrDeadlineExceeded. The reader takes any error that matches
// os.ErrDeadlineExceeded for one of its own read deadlines; when it is not
// (no deadline armed, or one not yet due) it reads again, gets crypto/tls's
// stored error at once, and spins. This test puts the connection in the
// state such a failed answer leaves (wfail set, cause a write timeout) and
// then sends one more record: the connection must be dropped as a slow
// consumer, not left spinning.
func TestTLSWriteFailedByTimeoutEndsTheConnection(t *testing.T) {
	certs := testcert.New(t, t.TempDir())
	cfg := &Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, RetryAttempts: -1,
		HeartbeatTimeout: -1, WriteTimeout: 200 * time.Millisecond,
		TLSConfig: certs.ServerConfig(false)}
	s := NewServer(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	ccfg := certs.ClientConfig(false)
	ccfg.MinVersion = tls.VersionTLS13
	tc, err := tls.Dial("tcp", s.Addr().String(), ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	event := func() {
		body := `{"pattern":"nobody","data":1}`
		if _, err := tc.Write([]byte(strconv.Itoa(len(body)) + "#" + body)); err != nil {
			t.Fatal(err)
		}
	}
	event() // the server's handshake is done once it has read this

	var c *conn
	for deadline := time.Now().Add(5 * time.Second); c == nil; {
		s.mu.Lock()
		if cs := s.connsLocked(); len(cs) == 1 && s.stats.bytesIn.Load() > 0 {
			c = cs[0]
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the server never read the first event")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// What a KeyUpdate answer that timed out leaves (handshakeCapped.Write).
	h := c.nc.(*tls.Conn).NetConn().(*handshakeCapped)
	h.wfail.CompareAndSwap(nil, &tlsWriteError{&net.OpError{Op: "write", Net: "tcp", Err: os.ErrDeadlineExceeded}})
	event() // the reader, blocked beneath TLS, wakes; its next Read finds wfail

	for deadline := time.Now().Add(5 * time.Second); ; {
		m := s.GetMetrics()
		if m.ActiveConnections == 0 && m.Limits.SlowConsumers == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("connection whose TLS write timed out still open 5 s on (active %d, slow_consumer %d)",
				m.ActiveConnections, m.Limits.SlowConsumers)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
