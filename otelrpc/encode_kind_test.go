package otelrpc_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/msgpattern/msgpattern/internal/spantest"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestSpanErrorKindOfUnencodableReply: a handler whose reply does not
// encode (a NaN, a channel…) is counted by the server as
// errors_total{kind="encode"}. The docs say the server span's error kinds
// are "those of the server's metrics"; the span says error.type=handler.
func TestSpanErrorKindOfUnencodableReply(t *testing.T) {
	tp, exp := spantest.NewProvider(t)
	srv := tracedBareServer(t, tp)
	srv.Handle("nan", rpc.HandlerFunc(func(_ context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
		return w.Send(math.NaN())
	}))
	c := startTCP(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Send(ctx, "nan", nil, nil); err == nil {
		t.Fatal("Send: no error")
	}
	s := find(t, spantest.Wait(t, exp, 1), "nan", trace.SpanKindServer)
	m := oneErrorCounted(t, srv)
	if m.ErrorByKind.Encode != 1 {
		t.Fatalf("precondition: metrics encode=%d (errors %d), want 1", m.ErrorByKind.Encode, m.Errors)
	}
	checkAttrs(t, s, map[string]string{"error.type": "encode", "msgpattern.outcome": "error"})
}

// TestSpanErrorKindOfJoinedDecodeError: the server classifies with
// errors.As, which looks into errors.Join; a handler returning a decode
// error joined with a cleanup error is counted decode. The span must say
// decode too.
func TestSpanErrorKindOfJoinedDecodeError(t *testing.T) {
	tp, exp := spantest.NewProvider(t)
	srv := tracedBareServer(t, tp)
	typed := rpc.Typed(func(_ context.Context, xs []int) (int, error) { return len(xs), nil })
	srv.Handle("joined", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
		err := typed.ServeMessage(ctx, w, r)
		if err != nil {
			return errors.Join(errors.New("cleanup failed"), err)
		}
		return nil
	}))
	c := startTCP(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Send(ctx, "joined", "not a list", nil); err == nil {
		t.Fatal("Send: no error")
	}
	s := find(t, spantest.Wait(t, exp, 1), "joined", trace.SpanKindServer)
	m := oneErrorCounted(t, srv)
	if m.ErrorByKind.Decode != 1 {
		t.Fatalf("precondition: metrics decode=%d (errors %d), want 1", m.ErrorByKind.Decode, m.Errors)
	}
	checkAttrs(t, s, map[string]string{"error.type": "decode"})
}

// oneErrorCounted waits (5 s at most) for srv's metrics to count an error,
// and returns them.
func oneErrorCounted(t *testing.T, srv *rpc.Server) rpc.Metrics {
	t.Helper()
	var m rpc.Metrics
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if m = srv.GetMetrics(); m.Errors == 1 {
			break
		}
	}
	return m
}
