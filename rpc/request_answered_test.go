package rpc_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestRequestAnswered: Request.Answered is true once a unary adapter's
// reply went out whole, false for a stream (its end is written after the
// handler returns) and for a Request built by hand.
func TestRequestAnswered(t *testing.T) {
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	answered := make(chan bool, 2)
	srv.Use(func(next rpc.Handler) rpc.Handler {
		return rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
			err := next.ServeMessage(ctx, w, r)
			answered <- r.Answered()
			return err
		})
	})
	srv.Handle("unary", rpc.Func(func(json.RawMessage) (any, error) { return 1, nil }))
	srv.Handle("stream", rpc.HandlerFunc(func(_ context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
		return w.Send(1)
	}))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := rpc.NewClient(srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tc := range []struct {
		pattern string
		want    bool
	}{{"unary", true}, {"stream", false}} {
		if err := c.Send(ctx, tc.pattern, nil, nil); err != nil {
			t.Fatalf("%s: %v", tc.pattern, err)
		}
		if got := <-answered; got != tc.want {
			t.Errorf("%s: Answered() = %v after the handler returned, want %v", tc.pattern, got, tc.want)
		}
	}
	if (&rpc.Request{}).Answered() {
		t.Error("a Request built by hand is Answered")
	}
}
