package rpc_test

import (
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestTLSEvictionOfHandshakeCounted: a connection evicted to admit a
// new one at MaxConnections is counted as limits.evicted_idle
// (docs/SERVER.md: "the connection idle longest is evicted ... counted
// limits.evicted_idle"). On a TLS server the idle connection evicted may
// still be in its handshake (its activeAt is the accept, and handshake
// bytes never refresh it); serve then closes it without counting it:
// evicted_idle stays 0 while a connection was evicted.
func TestTLSEvictionOfHandshakeCounted(t *testing.T) {
	p := newTestPKI(t)
	s, _ := startServer(t, rpc.Config{
		MaxConnections: 1,
		EvictIdleAfter: 200 * time.Millisecond,
		TLSConfig:      p.serverConfig(false),
	}, func(s *rpc.Server) { registerProbe(s) })
	silent := dial(t, s) // TCP only: never starts its handshake
	waitMetric(t, s, "active_connections", 1, func(m rpc.Metrics) int64 { return m.ActiveConnections })
	time.Sleep(500 * time.Millisecond) // idle longer than EvictIdleAfter

	honest := mustDialTLS(t, s, p.clientConfig(nil))
	bystanderCheck(t, honest, "the newcomer")
	silent.expectDropped()
	if m := s.GetMetrics(); m.Limits.EvictedIdle != 1 || m.RejectedConnections != 0 {
		t.Errorf("evicted_idle %d, rejected_connections %d; want 1, 0", m.Limits.EvictedIdle, m.RejectedConnections)
	}
}
