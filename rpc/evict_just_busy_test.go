package rpc_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestEvictionSparesJustBusyConnection: a connection whose handler ran
// longer than EvictIdleAfter and answered a moment ago has not been idle
// ("nothing running ... for EvictIdleAfter"): at MaxConnections a newcomer
// must be refused, not take its place. The server measures idleness from
// the last byte read only, so the connection is evicted the instant its
// long call completes.
func TestEvictionSparesJustBusyConnection(t *testing.T) {
	// Between the reply and the new dial's admission the connection is
	// idle; on a loaded machine that took past 300 ms. 1.5 s leaves room.
	const evictAfter = 1500 * time.Millisecond
	release := make(chan struct{})
	s, _ := startServer(t, rpc.Config{MaxConnections: 1, EvictIdleAfter: evictAfter}, func(s *rpc.Server) {
		s.Handle("slow", rpc.Func(func(json.RawMessage) (any, error) {
			<-release
			return "done", nil
		}))
	})
	first := dial(t, s)
	first.write(reqFrame(`"slow"`, `null`, `1`))
	waitMetric(t, s, "in_flight", int64(1), func(m rpc.Metrics) int64 { return m.InFlight })
	time.Sleep(2 * evictAfter) // the handler runs longer than EvictIdleAfter
	close(release)
	first.expectFrame(valueReply(`"done"`, `1`))
	waitMetric(t, s, "in_flight", int64(0), func(m rpc.Metrics) int64 { return m.InFlight })

	// Busy until a moment ago: not idle for EvictIdleAfter.
	dial(t, s)
	waitMetric(t, s, "evicted_idle + rejected_connections", uint64(1), func(m rpc.Metrics) uint64 {
		return m.Limits.EvictedIdle + m.RejectedConnections
	})
	if m := s.GetMetrics(); m.Limits.EvictedIdle != 0 || m.RejectedConnections != 1 {
		t.Fatalf("evicted_idle %d, rejected_connections %d; want 0, 1: a connection busy a moment ago was evicted as idle",
			m.Limits.EvictedIdle, m.RejectedConnections)
	}
	first.expectQuiet()
}
