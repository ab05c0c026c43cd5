package rpc_test

import (
	"bufio"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestTLSKeyUpdateFloodReadingNothingDropped: a peer that sends TLS 1.3
// KeyUpdates asking for an answer and reads nothing makes the server write
// from inside its reader's Read (crypto/tls answers each one) until its
// send buffer is full. A write that makes no progress for WriteTimeout
// drops the peer as a slow consumer (docs/SERVER.md). Two ways that failed:
// on a connection that never sent a reply the answers had no write
// deadline at all (the reader blocked in Write for ever, holding the
// connection and a full send buffer); and crypto/tls keeps a failed
// answer's error for the next Write and goes on reading, so the server did
// not see the peer as a slow consumer. An honest TLS client on the same
// server is served throughout.
func TestTLSKeyUpdateFloodReadingNothingDropped(t *testing.T) {
	const writeTimeout = 200 * time.Millisecond
	p := newTestPKI(t)
	s, _ := startServer(t, rpc.Config{TLSConfig: p.serverConfig(false), WriteTimeout: writeTimeout},
		func(s *rpc.Server) { registerProbe(s) })
	// A small send buffer fills after a few hundred answers, whatever the
	// CPU's speed (autotuned, it takes megabytes: seconds under -race).
	if err := rpc.SetAcceptedSendBufferForTest(s, 4<<10); err != nil {
		t.Fatal(err)
	}
	honest, _, _ := dialTLS13Raw(t, s, p)
	honestBr := bufio.NewReader(honest)
	honestCall := func(id string) {
		t.Helper()
		honest.SetDeadline(time.Now().Add(ioTimeout))
		if _, err := honest.Write([]byte(reqFrame(`"sum"`, `[1,2]`, `"`+id+`"`))); err != nil {
			t.Fatalf("honest client, call %s: %v", id, err)
		}
		if got, err := readNestFrame(honestBr); err != nil || got != valueReply(`3`, `"`+id+`"`) {
			t.Fatalf("honest client, call %s: %q, %v", id, got, err)
		}
	}
	honestCall("before")

	_, raw, k := dialTLS13Raw(t, s, p)

	// Batches of KeyUpdates, each followed by an event (data, no reply:
	// crypto/tls takes at most 16 handshake messages in a row without
	// data), sent until the server drops the connection. Writes that time
	// out on our side (the server, blocked in its own write, not reading)
	// are retried; the test fails if the connection is still up 20 s on.
	event := []byte(frame(`{"pattern":"nobody","data":1}`))
	var pending []byte
	stalls := 0
	for deadline := time.Now().Add(20 * time.Second); ; {
		if time.Now().After(deadline) {
			m := s.GetMetrics()
			t.Fatalf("a peer reading nothing kept its connection (%d of its writes stalled for 1 s), WriteTimeout %v (active %d, slow_consumer %d)",
				stalls, writeTimeout, m.ActiveConnections, m.Limits.SlowConsumers)
		}
		if len(pending) == 0 {
			for range 15 {
				pending = append(pending, k.keyUpdate()...)
			}
			pending = append(pending, k.w.record(23, event)...)
		}
		raw.SetWriteDeadline(time.Now().Add(time.Second))
		n, err := raw.Write(pending)
		pending = pending[n:]
		if errors.Is(err, os.ErrDeadlineExceeded) {
			stalls++
			if s.GetMetrics().ActiveConnections == 1 {
				break // dropped (its socket may close later: crypto/tls's close_notify waits up to 5 s)
			}
			continue
		}
		if err != nil {
			break // the server closed the connection
		}
	}
	waitMetric(t, s, "active_connections", 1, func(m rpc.Metrics) int64 { return m.ActiveConnections })
	waitMetric(t, s, "slow_consumer", 1, func(m rpc.Metrics) uint64 { return m.Limits.SlowConsumers })
	honestCall("after")
}
