package otelrpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/msgpattern/msgpattern/internal/spantest"
	"github.com/msgpattern/msgpattern/otelrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestSpanOKWhenReplyInTimeAndMiddlewareReturnsLate: a unary handler answers well
// within its deadline; an inner middleware (installed after otelrpc, as the
// docs advise) returns only after the deadline. The caller gets the
// success reply and the server's metrics count no timeout and no error,
// yet the server span says error.type=timeout, status Error. The docs say
// the span's error kinds are "those of the server's metrics" and that
// timeout means "the caller got the timeout reply".
func TestSpanOKWhenReplyInTimeAndMiddlewareReturnsLate(t *testing.T) {
	tp, exp := spantest.NewProvider(t)
	srv := tracedBareServer(t, tp)
	// An inner middleware that does some work after the handler replied
	// (an audit write, say), finishing after the deadline.
	srv.Use(func(next rpc.Handler) rpc.Handler {
		return rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
			err := next.ServeMessage(ctx, w, r)
			<-ctx.Done()
			return err
		})
	})
	srv.Handle("quick", rpc.Func(func(json.RawMessage) (any, error) { return "ok", nil }),
		rpc.WithTimeout(200*time.Millisecond))
	c := startTCP(t, srv)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got string
	if err := c.Send(ctx, "quick", nil, &got); err != nil || got != "ok" {
		t.Fatalf("Send: %q, %v; want the success reply", got, err)
	}
	spans := spantest.Wait(t, exp, 1)
	s := find(t, spans, "quick", trace.SpanKindServer)

	// Wait for the server to have counted the request (just after the
	// handler returns).
	var m rpc.Metrics
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		m = srv.GetMetrics()
		if m.Requests == 1 {
			break
		}
	}
	if m.Requests != 1 {
		t.Fatalf("the request was not counted: %d", m.Requests)
	}
	for _, p := range m.Patterns {
		if p.Pattern == "quick" && p.Errors != 0 {
			t.Fatalf("precondition: pattern errors %d, want 0", p.Errors)
		}
	}
	t.Logf("metrics: timeout=%d errors=%d; span status %v %q attrs %v",
		m.ErrorByKind.Timeout, m.Errors, s.Status.Code, s.Status.Description, s.Attributes)
	if m.ErrorByKind.Timeout != 0 || m.Errors != 0 {
		t.Fatalf("precondition: metrics count timeout=%d errors=%d, want 0", m.ErrorByKind.Timeout, m.Errors)
	}
	if s.Status.Code == codes.Error {
		t.Errorf("server span has status Error %q though the caller got the success reply and the metrics count no error", s.Status.Description)
	}
	checkAttrs(t, s, map[string]string{"msgpattern.outcome": "ok"}, "error.type")
}

// TestSpanOfPanicAfterTimeoutIsTimeout: a handler that panics after its
// deadline was answered with the timeout reply, and the metrics count a
// timeout; the span says so too (with the panic recorded as an event).
func TestSpanOfPanicAfterTimeoutIsTimeout(t *testing.T) {
	tp, exp := spantest.NewProvider(t)
	srv := tracedBareServer(t, tp)
	srv.Handle("late", rpc.ContextFunc(func(ctx context.Context, _ json.RawMessage) (any, error) {
		<-ctx.Done()
		panic("too late")
	}), rpc.WithTimeout(50*time.Millisecond))
	c := startTCP(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Send(ctx, "late", nil, nil); err == nil {
		t.Fatal("Send succeeded; want the timeout error")
	}
	s := find(t, spantest.Wait(t, exp, 1), "late", trace.SpanKindServer)
	if m := srv.GetMetrics(); m.ErrorByKind.Timeout != 1 || m.ErrorByKind.Panic != 0 {
		t.Fatalf("precondition: metrics count timeout=%d panic=%d, want 1 and 0", m.ErrorByKind.Timeout, m.ErrorByKind.Panic)
	}
	checkAttrs(t, s, map[string]string{"error.type": "timeout"})
}

// tracedBareServer is a server traced by tp with no handlers, shut down
// when the test ends.
func tracedBareServer(t *testing.T, tp trace.TracerProvider) *rpc.Server {
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger())
	srv.Use(otelrpc.Middleware(otelrpc.WithTracerProvider(tp)))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv
}
