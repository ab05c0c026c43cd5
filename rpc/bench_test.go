package rpc_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/msgpattern/msgpattern/internal/loadgen"
	"github.com/msgpattern/msgpattern/rpc"
)

// startSumServer starts a server with the benchmark's "sum" handler.
func startSumServer(tb testing.TB, cfg *rpc.Config) *rpc.Server {
	tb.Helper()
	if cfg == nil {
		cfg = &rpc.Config{}
	}
	cfg.Addr = "127.0.0.1:0"
	srv := rpc.NewServer(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	rpc.NewServerWrapper(srv).MessagePattern("sum", func(data json.RawMessage) (interface{}, error) {
		var xs []int
		if err := json.Unmarshal(data, &xs); err != nil {
			return nil, err
		}
		t := 0
		for _, x := range xs {
			t += x
		}
		return t, nil
	})
	if err := srv.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv
}

// benchLoad runs the same load against the ceiling and our server, so that
// their ratio is measured in one run.
func benchLoad(b *testing.B, conns, inflight int) {
	ceiling, err := loadgen.StartCeiling("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ceiling.Close() })
	srv := startSumServer(b, nil)
	// The same server with a handler that does no work of its own: what
	// the framework costs.
	bare, _ := startServer(b, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("sum", rpc.Func(func(json.RawMessage) (any, error) { return 3, nil }))
	})
	// A typed handler, as most users will write it: data decoded into []float64.
	typed, _ := startServer(b, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("sum", rpc.Typed(func(_ context.Context, xs []float64) (float64, error) {
			t := 0.0
			for _, x := range xs {
				t += x
			}
			return t, nil
		}))
	})
	for _, target := range []struct{ name, addr string }{
		{"ceiling", ceiling.Addr()},
		{"msgpattern", srv.Addr().String()},
		{"msgpattern-typed-sum", typed.Addr().String()},
		{"msgpattern-const-handler", bare.Addr().String()},
	} {
		b.Run(target.name, func(b *testing.B) {
			b.ReportAllocs()
			n := max(b.N, conns)
			res, err := loadgen.Run(target.addr, conns, inflight, n, loadgen.SumFrame)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(res.PerSecond(), "req/s")
		})
	}
}

// BenchmarkRoundTrip is one connection with one request in flight: latency.
func BenchmarkRoundTrip(b *testing.B) { benchLoad(b, 1, 1) }

// BenchmarkPipelined16x64 is 16 connections × 64 requests in flight: throughput.
func BenchmarkPipelined16x64(b *testing.B) { benchLoad(b, 16, 64) }

// BenchmarkPipelined4x16 is a lighter concurrent load.
func BenchmarkPipelined4x16(b *testing.B) { benchLoad(b, 4, 16) }
