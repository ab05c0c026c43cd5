package otelrpc_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/msgpattern/msgpattern/internal/spantest"
	"github.com/msgpattern/msgpattern/otelrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestStreamOfDecodeErrorIsSpanError: a reply value that does not decode
// fails rpc.Call through WrapCaller with a client span of status Error;
// the same failure in rpc.StreamOf ends its span as if the caller had
// chosen to stop (msgpattern.outcome "abandoned", status Unset), so the
// failed call is invisible in the trace.
func TestStreamOfDecodeErrorIsSpanError(t *testing.T) {
	tp, exp := spantest.NewProvider(t)
	srv, _ := newTracedServer(t, tp, func() rpc.Caller { return nil })
	caller := otelrpc.WrapCaller(startTCP(t, srv), otelrpc.WithTracerProvider(tp))
	ctx := context.Background()

	if _, err := rpc.Call[any, int](ctx, caller, "ok", nil); err == nil {
		t.Fatal("Call decoded \"pong\" into an int")
	}
	var streamErr error
	for _, err := range rpc.StreamOf[string](ctx, caller, "ticks", nil) {
		if err != nil {
			streamErr = err
		}
	}
	if streamErr == nil {
		t.Fatal("StreamOf decoded 3 into a string")
	}
	spans := spantest.Wait(t, exp, 4) // two client spans, two server spans
	call := find(t, spans, "ok", trace.SpanKindClient)
	stream := find(t, spans, "ticks", trace.SpanKindClient)
	if call.Status.Code != codes.Error {
		t.Fatalf("Call's span: status %v, want Error", call.Status.Code)
	}
	if stream.Status.Code != codes.Error {
		t.Errorf("StreamOf's span, its value undecodable (%v): status %v, want Error as for Call; attributes %v",
			streamErr, stream.Status.Code, stream.Attributes)
	}
}
