package otelrpc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/msgpattern/msgpattern/internal/spantest"
	"github.com/msgpattern/msgpattern/otelrpc"
)

// panickyData is call data whose encoding panics (a MarshalJSON with a bug).
type panickyData struct{}

func (panickyData) MarshalJSON() ([]byte, error) { panic("marshal boom") }

// TestClientSpanEndsOnPanic: WrapCaller's Stream ends its span "also
// when yield panics"; Send's and Emit's spans must end too when the
// wrapped call panics on its way up, or the span is lost (never exported).
func TestClientSpanEndsOnPanic(t *testing.T) {
	tp, exp := spantest.NewProvider(t)
	srv, _ := newTracedServer(t, noop.NewTracerProvider(), nil)
	traced := otelrpc.WrapCaller(startTCP(t, srv), otelrpc.WithTracerProvider(tp))
	for _, op := range []string{"Send", "Emit"} {
		t.Run(op, func(t *testing.T) {
			exp.Reset()
			func() {
				defer func() {
					if recover() == nil {
						t.Fatal("the call did not panic")
					}
				}()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if op == "Send" {
					traced.Send(ctx, "ok", panickyData{}, nil)
				} else {
					traced.Emit(ctx, "evt", panickyData{})
				}
			}()
			spans := exp.GetSpans() // the exporter is synchronous: an ended span is there
			if len(spans) != 1 {
				t.Fatalf("%s panicked: %d spans ended, want 1 (the call's span was never ended)", op, len(spans))
			}
			if spans[0].Status.Code != codes.Error {
				t.Errorf("%s span status %v, want Error", op, spans[0].Status.Code)
			}
		})
	}
}

// TestServerPanicSpanHasException: otelrpc/doc.go, "A span that ends in
// an error also has status Error, with the error's text, and an exception
// event." A handler panic is one of the documented error kinds ("panic").
func TestServerPanicSpanHasException(t *testing.T) {
	tp, exp := spantest.NewProvider(t)
	srv, _ := newTracedServer(t, tp, nil)
	c := startTCP(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Send(ctx, "panic", nil, nil) // the handler panics with "kaboom"
	s := find(t, spantest.Wait(t, exp, 1), "panic", trace.SpanKindServer)
	if s.Status.Code != codes.Error || !strings.Contains(s.Status.Description, "kaboom") {
		t.Errorf("status %v %q, want Error with the panic's text (kaboom)", s.Status.Code, s.Status.Description)
	}
	if len(s.Events) == 0 || s.Events[0].Name != "exception" {
		t.Errorf("the panic's span has no exception event: %v", s.Events)
	}
}
