package otelrpc_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/msgpattern/msgpattern/internal/spantest"
	"github.com/msgpattern/msgpattern/otelrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestGlobalPropagatorNoneIsHonoured: a program that sets the global
// propagator to one that propagates nothing — what
// autoprop.NewTextMapPropagator() returns for OTEL_PROPAGATORS=none, an
// empty composite — has set one. The docs say the global one is used when
// the program has set one; W3C is only the default while it is unset.
// Yet WrapCaller sends a traceparent (and any baggage) to the peer, and
// Middleware makes a server span the child of the traceparent an
// untrusted peer put in the metadata (its sampled flag included).
func TestGlobalPropagatorNoneIsHonoured(t *testing.T) {
	orig := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator()) // OTEL_PROPAGATORS=none
	t.Cleanup(func() { otel.SetTextMapPropagator(orig) })

	tp, exp := spantest.NewProvider(t)

	// Client side: nothing may be injected.
	rec := &recordingCaller{}
	_ = otelrpc.WrapCaller(rec, otelrpc.WithTracerProvider(tp)).Send(context.Background(), "p", nil, nil)
	if md := rec.metadata[0]; len(md) != 0 {
		t.Errorf("global propagator set to none: WrapCaller sent metadata %v, want none", md)
	}
	spantest.Wait(t, exp, 1)
	exp.Reset()

	// Server side: a peer's traceparent must not become the parent.
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger())
	srv.Use(otelrpc.Middleware(otelrpc.WithTracerProvider(tp)))
	srv.Handle("ok", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
		return w.Send("pong")
	}))
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	c := startTCP(t, srv)
	var got string
	if err := c.Send(context.Background(), "ok", nil, &got, rpc.WithMetadata(map[string]string{"traceparent": traceparent})); err != nil {
		t.Fatal(err)
	}
	s := find(t, spantest.Wait(t, exp, 1), "ok", trace.SpanKindServer)
	if s.Parent.IsValid() || s.SpanContext.TraceID().String() == remoteTrace {
		t.Errorf("global propagator set to none: server span is in the peer's trace %s (parent %s), want a new trace",
			s.SpanContext.TraceID(), s.Parent.SpanID())
	}
}
