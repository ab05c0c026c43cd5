package rpc

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/msgpattern/msgpattern/internal/loadgen"
)

// BenchmarkMetricsOverhead measures what per-request metrics (counters,
// latency histograms) cost, on the same load with them on and off.
func BenchmarkMetricsOverhead(b *testing.B) {
	for _, load := range []struct {
		name            string
		conns, inflight int
	}{{"1x1", 1, 1}, {"16x64", 16, 64}} {
		for _, on := range []bool{true, false} {
			name := load.name + "/metrics-on"
			if !on {
				name = load.name + "/metrics-off"
			}
			b.Run(name, func(b *testing.B) {
				srv := NewServer(&Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
				srv.disp.noMetrics = !on
				srv.Handle("sum", Func(func(json.RawMessage) (any, error) { return 3, nil }))
				if err := srv.Start(); err != nil {
					b.Fatal(err)
				}
				defer srv.Shutdown(context.Background())
				b.ReportAllocs()
				res, err := loadgen.Run(srv.Addr().String(), load.conns, load.inflight, max(b.N, load.conns), loadgen.SumFrame)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(res.PerSecond(), "req/s")
			})
		}
	}
}
