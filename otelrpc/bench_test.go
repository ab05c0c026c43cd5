package otelrpc_test

import (
	"context"
	"encoding/json"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/msgpattern/msgpattern/otelrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// BenchmarkRoundTrip: one call at a time over loopback TCP, our client to
// our server ("sum" of two numbers), run with
//
//	go test -run '^$' -bench RoundTrip -benchmem ./otelrpc/
//
// The cases:
//   - plain: no middleware, no wrapper (rpc as it is);
//   - noop: Middleware and WrapCaller with a no-op provider (what a program
//     that installs them but configures no SDK pays);
//   - traced: Middleware and WrapCaller with the SDK, every span sampled and
//     exported synchronously to an in-memory exporter (reset now and then);
//   - batched: as traced, with a batch span processor and an exporter that
//     drops the spans (the production setup, without the network);
//   - traced-server: only the server's middleware, the client sending a
//     fixed traceparent (a NestJS client's cost on our side).
func BenchmarkRoundTrip(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchRoundTrip(b, nil, false, false) })
	b.Run("noop", func(b *testing.B) { benchRoundTrip(b, noop.NewTracerProvider(), true, true) })
	b.Run("traced", func(b *testing.B) {
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		defer tp.Shutdown(context.Background())
		benchRoundTrip(b, tp, true, true, exp)
	})
	b.Run("batched", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		defer tp.Shutdown(context.Background())
		benchRoundTrip(b, tp, true, true)
	})
	b.Run("traced-server", func(b *testing.B) {
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		defer tp.Shutdown(context.Background())
		benchRoundTrip(b, tp, true, false, exp)
	})
}

func benchRoundTrip(b *testing.B, tp trace.TracerProvider, server, client bool, exp ...*tracetest.InMemoryExporter) {
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger())
	if server {
		srv.Use(otelrpc.Middleware(otelrpc.WithTracerProvider(tp)))
	}
	srv.Handle("sum", rpc.Typed(func(_ context.Context, xs [2]int) (int, error) { return xs[0] + xs[1], nil }))
	raw := startTCP(b, srv)
	defer srv.Shutdown(context.Background())
	var c rpc.Caller = raw
	var opts []rpc.CallOption
	if client {
		c = otelrpc.WrapCaller(raw, otelrpc.WithTracerProvider(tp))
	} else if server {
		opts = append(opts, rpc.WithMetadata(map[string]string{"traceparent": traceparent}))
	}
	ctx := context.Background()
	in := [2]int{1, 2}
	var out json.RawMessage
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := c.Send(ctx, "sum", in, &out, opts...); err != nil {
			b.Fatal(err)
		}
		if i++; i%256 == 0 && len(exp) > 0 {
			exp[0].Reset()
		}
	}
}

// BenchmarkMiddleware: the middleware alone around a handler that does
// nothing, no network: the cost of a span per message, with a no-op
// provider and with the SDK (batch processor, spans dropped).
func BenchmarkMiddleware(b *testing.B) {
	for _, tc := range []struct {
		name string
		tp   func() trace.TracerProvider
	}{
		{"noop", func() trace.TracerProvider { return noop.NewTracerProvider() }},
		{"sdk", func() trace.TracerProvider {
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
			b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			return tp
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := otelrpc.Middleware(otelrpc.WithTracerProvider(tc.tp()))(rpc.HandlerFunc(
				func(context.Context, rpc.ResponseWriter, *rpc.Request) error { return nil }))
			r := &rpc.Request{Route: "sum"}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := h.ServeMessage(ctx, nil, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
