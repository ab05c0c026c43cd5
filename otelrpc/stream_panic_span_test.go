package otelrpc_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/msgpattern/msgpattern/internal/spantest"
	"github.com/msgpattern/msgpattern/otelrpc"
)

// TestStreamSpanOfPanickedCall: a Stream whose call panics (its data's
// encoding, as in TestClientSpanEndsOnPanic for Send and Emit), or whose
// loop body panics, is not exported as a success: its span gets status
// Error and error.type "panic", as Send's and Emit's do, not
// msgpattern.outcome "ok" and status Unset, as if the stream had
// completed.
func TestStreamSpanOfPanickedCall(t *testing.T) {
	tp, exp := spantest.NewProvider(t)
	srv, _ := newTracedServer(t, noop.NewTracerProvider(), nil)
	traced := otelrpc.WrapCaller(startTCP(t, srv), otelrpc.WithTracerProvider(tp))
	for _, tc := range []struct {
		name string
		data any
		body func()
	}{
		{"call", panickyData{}, func() {}},
		{"loop body", nil, func() { panic("consumer boom") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp.Reset()
			func() {
				defer func() {
					if recover() == nil {
						t.Fatal("the stream did not panic")
					}
				}()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				for range traced.Stream(ctx, "ticks", tc.data) {
					tc.body()
				}
			}()
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans ended, want 1", len(spans))
			}
			s := spans[0]
			if s.Status.Code != codes.Error {
				t.Errorf("span of a panicked stream: status %v, want Error", s.Status.Code)
			}
			a := attrs(s)
			if got := a[otelrpc.OutcomeKey].AsString(); got == "ok" {
				t.Errorf("span of a panicked stream: %s = %q, want not ok", otelrpc.OutcomeKey, got)
			}
			if got := a["error.type"].AsString(); got != "panic" {
				t.Errorf("span of a panicked stream: error.type = %q, want panic", got)
			}
		})
	}
}
