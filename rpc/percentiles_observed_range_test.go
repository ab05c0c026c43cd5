package rpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestPercentilesWithinObservedRange: a percentile estimate must lie
// between the shortest and the longest latency observed. Every request
// here takes at least 50 ms (its handler sleeps 50 ms), all in the
// (32.768, 65.536] ms bucket: interpolating inside it from its lower bound
// put the server's p50 near 41 ms, below every latency, and the client's
// (which had no clamp at all) p99 near 65 ms, above every call's duration.
func TestPercentilesWithinObservedRange(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("nap50", rpc.Func(func(json.RawMessage) (any, error) {
			time.Sleep(50 * time.Millisecond)
			return "ok", nil
		}))
	})
	c := newTestClient(t, s.Addr().String())
	var longest time.Duration
	for range 3 {
		start := time.Now()
		if err := c.Send(context.Background(), "nap50", nil, nil); err != nil {
			t.Fatal(err)
		}
		longest = max(longest, time.Since(start))
	}
	eventually(ioTimeout, func() bool {
		for _, p := range s.GetMetrics().Patterns {
			if p.Pattern == "nap50" {
				return p.Count == 3
			}
		}
		return false
	})
	for _, p := range s.GetMetrics().Patterns {
		if p.Pattern != "nap50" {
			continue
		}
		t.Logf("server: p50 %.3f p90 %.3f p99 %.3f max %.3f ms", p.P50LatencyMs, p.P90LatencyMs, p.P99LatencyMs, p.MaxLatencyMs)
		for _, q := range []float64{p.P50LatencyMs, p.P90LatencyMs, p.P99LatencyMs} {
			if q < 50 || q > p.MaxLatencyMs {
				t.Errorf("server percentile %.3f ms outside [50, %.3f] ms, the latencies observed", q, p.MaxLatencyMs)
			}
		}
	}
	cm := c.Metrics()
	lim := float64(longest) / 1e6
	t.Logf("client: p50 %.3f p90 %.3f p99 %.3f ms; longest call %.3f ms", cm.P50LatencyMs, cm.P90LatencyMs, cm.P99LatencyMs, lim)
	for _, q := range []float64{cm.P50LatencyMs, cm.P90LatencyMs, cm.P99LatencyMs} {
		if q < 50 || q > lim {
			t.Errorf("client percentile %.3f ms outside [50, %.3f] ms, the calls' durations", q, lim)
		}
	}
}
