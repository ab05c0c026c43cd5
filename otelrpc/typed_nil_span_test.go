package otelrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/msgpattern/msgpattern/internal/spantest"
	"github.com/msgpattern/msgpattern/otelrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// nilLookupError is an application's error type whose Error needs a value.
type nilLookupError struct{ key string }

func (e *nilLookupError) Error() string { return "no such key: " + e.key }

// TestTypedNilErrorSpanEnds: a handler that returns a typed-nil error (a
// nil *rpc.Error from a validate helper, or a nil *T whose Error needs a
// value) is answered by the server with "Internal server error" and the
// server serves on (rpc's TestTypedNilErrorsAnsweredAsInternal). Under
// Middleware, examining that error (isNoHandler's *re, recordError's
// err.Error()) panics after the handler returned, past the middleware's
// own recover: the server span is never ended, so the failed request has
// no span at all.
func TestTypedNilErrorSpanEnds(t *testing.T) {
	tp, exp := spantest.NewProvider(t)
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger())
	srv.Use(otelrpc.Middleware(otelrpc.WithTracerProvider(tp)))
	srv.Handle("nilrpc", rpc.Func(func(json.RawMessage) (any, error) {
		var e *rpc.Error // validate(data) found nothing wrong
		return nil, e
	}))
	srv.Handle("nillookup", rpc.Func(func(json.RawMessage) (any, error) {
		var e *nilLookupError
		return nil, e
	}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	c := startTCP(t, srv)
	for _, p := range []string{"nilrpc", "nillookup"} {
		var re *rpc.Error
		if err := c.Send(context.Background(), p, nil, nil); !errors.As(err, &re) {
			t.Fatalf("%s: %v, want the internal error reply", p, err)
		}
	}
	// An error reply is written once the handler's chain returned: the
	// middleware had ended its span (if it ever would) before the reply
	// left, so the spans are exported by now.
	spans := exp.GetSpans()
	for _, p := range []string{"nilrpc", "nillookup"} {
		var got []string
		for _, s := range spans {
			if s.Name == p && s.SpanKind == trace.SpanKindServer {
				got = append(got, s.Status.Code.String())
				if s.Status.Code != codes.Error {
					t.Errorf("%s: status %v, want Error", p, s.Status.Code)
				}
			}
		}
		if len(got) != 1 {
			t.Errorf("%s: %d server spans, want 1 (its status Error):\n%s", p, len(got), spantest.Describe(spans))
		}
	}
}

// nilErrCaller is a Caller (a test double, an application's fallback)
// whose calls fail with a typed-nil *rpc.Error.
type nilErrCaller struct{ rpc.Caller }

func (nilErrCaller) Send(context.Context, any, any, any, ...rpc.CallOption) error {
	var e *rpc.Error
	return e
}

// TestTypedNilCallErrorSpanEnds: through WrapCaller, a Caller's typed-nil
// *rpc.Error is returned as it is (non-nil), as without the wrapper, and
// the client span ends with status Error; the wrapper read its Status
// through the nil pointer: the Send panicked in the caller's goroutine and
// the span never ended.
func TestTypedNilCallErrorSpanEnds(t *testing.T) {
	tp, exp := spantest.NewProvider(t)
	c := otelrpc.WrapCaller(nilErrCaller{}, otelrpc.WithTracerProvider(tp))
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("Send panicked: %v", p)
			}
		}()
		err = c.Send(context.Background(), "x", nil, nil)
	}()
	if err == nil {
		t.Error("Send returned nil, want the Caller's (typed-nil) error")
	}
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].Status.Code != codes.Error {
		t.Errorf("want one client span of status Error:\n%s", spantest.Describe(spans))
	}
}
