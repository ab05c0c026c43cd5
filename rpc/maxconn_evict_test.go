package rpc_test

import (
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestMaxConnectionsEviction: at MaxConnections a new connection takes the
// place of one idle for EvictIdleAfter; with EvictIdleAfter negative the
// existing connections are never touched, as the original API had it, and
// the new one is refused.
func TestMaxConnectionsEviction(t *testing.T) {
	for _, tt := range []struct {
		name    string
		evict   time.Duration
		evicted bool
	}{
		{"idle connection makes room", 200 * time.Millisecond, true},
		{"negative never evicts", -1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := startServer(t, rpc.Config{MaxConnections: 1, EvictIdleAfter: tt.evict}, func(s *rpc.Server) { registerProbe(s) })
			first := dial(t, s)
			bystanderCheck(t, first, "before")
			time.Sleep(500 * time.Millisecond) // idle longer than EvictIdleAfter
			second := dial(t, s)
			if tt.evicted {
				first.expectClosed()
				bystanderCheck(t, second, "the newcomer")
				if m := s.GetMetrics(); m.Limits.EvictedIdle != 1 || m.RejectedConnections != 0 {
					t.Errorf("evicted_idle %d, rejected_connections %d; want 1, 0", m.Limits.EvictedIdle, m.RejectedConnections)
				}
				return
			}
			second.expectClosed()
			first.expectQuiet()
			bystanderCheck(t, first, "after")
			if m := s.GetMetrics(); m.Limits.EvictedIdle != 0 || m.RejectedConnections != 1 {
				t.Errorf("evicted_idle %d, rejected_connections %d; want 0, 1", m.Limits.EvictedIdle, m.RejectedConnections)
			}
		})
	}
}
