package rpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestPatternPercentilesWithinMax: per-pattern percentiles are estimated
// inside power-of-two buckets; they must never exceed the longest latency
// observed. Every request here takes a little over 1 ms, so all fall in
// the 1–2 ms bucket, where p99 used to read almost 2 ms.
func TestPatternPercentilesWithinMax(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("nap", rpc.Func(func(json.RawMessage) (any, error) {
			time.Sleep(1100 * time.Microsecond)
			return "ok", nil
		}))
	})
	c := newTestClient(t, s.Addr().String())
	for range 50 {
		if err := c.Send(context.Background(), "nap", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	nap := func() (rpc.PatternMetrics, bool) {
		for _, p := range s.GetMetrics().Patterns {
			if p.Pattern == "nap" {
				return p, true
			}
		}
		return rpc.PatternMetrics{}, false
	}
	// A request is counted just after its reply is written.
	eventually(ioTimeout, func() bool { p, _ := nap(); return p.Count == 50 })
	if p, ok := nap(); ok {
		t.Logf("p50 %.3f p90 %.3f p99 %.3f max %.3f ms", p.P50LatencyMs, p.P90LatencyMs, p.P99LatencyMs, p.MaxLatencyMs)
		if p.Count != 50 || p.P50LatencyMs <= 0 || p.P50LatencyMs > p.P90LatencyMs || p.P90LatencyMs > p.P99LatencyMs {
			t.Errorf("count %d, percentiles %v %v %v: want 50 and 0 < p50 ≤ p90 ≤ p99", p.Count, p.P50LatencyMs, p.P90LatencyMs, p.P99LatencyMs)
		}
		if p.P99LatencyMs > p.MaxLatencyMs {
			t.Errorf("p99 %.3f ms is above the longest latency observed, %.3f ms", p.P99LatencyMs, p.MaxLatencyMs)
		}
		return
	}
	t.Fatal("no metrics for pattern nap")
}
