package otelrpc_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/msgpattern/msgpattern/internal/spantest"
	"github.com/msgpattern/msgpattern/otelrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestSpanStatusCodeOfPeerBounded: rpc.response.status_code is the
// "status" of the error value a remote peer answered with. recordError
// cuts an error's text to 1 KiB because "a span outlives its request in the
// exporter's queue", but the status attribute is put in the span uncut: a
// hostile (or buggy) server answering {"err":{"status":"<1 MiB>"}} makes
// every client span — and the span of a handler that forwards that error —
// hold a megabyte of peer-chosen text.
func TestSpanStatusCodeOfPeerBounded(t *testing.T) {
	tp, exp := spantest.NewProvider(t)
	big := strings.Repeat("4", 1<<20)

	// The hostile downstream: its error's status is a megabyte long.
	down := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger())
	down.Handle("bad", rpc.Func(func(json.RawMessage) (any, error) {
		return nil, &rpc.Error{Status: big, Message: "nope"}
	}))
	downClient := startTCP(t, down)
	t.Cleanup(func() { _ = down.Shutdown(context.Background()) })
	traced := otelrpc.WrapCaller(downClient, otelrpc.WithTracerProvider(tp))

	// A traced server whose handler forwards the downstream error verbatim,
	// as rpc.Error's documentation describes.
	srv, _ := newTracedServer(t, tp, nil)
	srv.Handle("fwd", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
		var v any
		return traced.Send(ctx, "bad", nil, &v)
	}))
	c := startTCP(t, srv)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var v any
	if err := c.Send(ctx, "fwd", nil, &v); err == nil {
		t.Fatal("no error")
	}
	spans := spantest.Wait(t, exp, 2)
	for _, s := range []struct {
		name string
		kind trace.SpanKind
	}{{"bad", trace.SpanKindClient}, {"fwd", trace.SpanKindServer}} {
		span := find(t, spans, s.name, s.kind)
		held := len(span.Status.Description)
		for _, kv := range span.Attributes {
			held += len(kv.Value.String())
		}
		for _, e := range span.Events {
			for _, kv := range e.Attributes {
				held += len(kv.Value.String())
			}
		}
		if held > 4<<10 {
			st := attrs(span)["rpc.response.status_code"]
			t.Errorf("%s span %q holds %d KiB of text from one peer reply (rpc.response.status_code: %d KiB); want ≤ 4 KiB, as for the error text",
				s.kind, s.name, held>>10, len(st.String())>>10)
		}
	}
}
