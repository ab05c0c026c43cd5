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
	"github.com/msgpattern/msgpattern/rpc"
)

// TestSpanOfFailureAfterReplyComplete: a unary handler answers; an inner
// middleware (installed after otelrpc, as the docs advise) then fails on
// its own (a failed audit write, say), by returning an error or by
// panicking. The reply was complete: the caller has the handler's value,
// and the server counts no error (rpc's serve drops the error of a request
// already answered). The span said error.type handler or panic,
// rpc.response.status_code "error" and status Error — "the caller gets
// Internal server error", by the package docs, while it got the success
// reply.
func TestSpanOfFailureAfterReplyComplete(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func() error
	}{
		{"error", func() error { return errors.New("audit write failed") }},
		{"panic", func() error { panic("audit write failed") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp, exp := spantest.NewProvider(t)
			srv := tracedBareServer(t, tp)
			srv.Use(func(next rpc.Handler) rpc.Handler {
				return rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
					if err := next.ServeMessage(ctx, w, r); err != nil {
						return err
					}
					return tc.fail()
				})
			})
			srv.Handle("quick", rpc.Func(func(json.RawMessage) (any, error) { return "ok", nil }))
			c := startTCP(t, srv)

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var got string
			if err := c.Send(ctx, "quick", nil, &got); err != nil || got != "ok" {
				t.Fatalf("Send: %q, %v; want the success reply", got, err)
			}
			s := find(t, spantest.Wait(t, exp, 1), "quick", trace.SpanKindServer)
			var m rpc.Metrics
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				if m = srv.GetMetrics(); m.Requests == 1 {
					break
				}
			}
			if m.Requests != 1 || m.Errors != 0 {
				t.Fatalf("precondition: requests=%d errors=%d, want 1 and 0", m.Requests, m.Errors)
			}
			if s.Status.Code == codes.Error {
				t.Errorf("server span has status Error %q though the caller got the success reply and the metrics count no error", s.Status.Description)
			}
			checkAttrs(t, s, map[string]string{"msgpattern.outcome": "ok"}, "error.type", "rpc.response.status_code")
		})
	}
}
