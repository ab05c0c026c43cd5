package rpc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestRequestContextErrStableAfterReturn: the request context ends as its
// handler returns, Err() reporting context.Canceled; a first version
// recomputed it at each call when the handler never asked for Done, and
// once the request's deadline had passed said context.DeadlineExceeded
// instead. context.Context's contract: "After Err returns a non-nil error,
// successive calls to Err return the same error." A goroutine the handler
// started that checks errors.Is(ctx.Err(), context.Canceled) saw the error
// change under it.
func TestRequestContextErrStableAfterReturn(t *testing.T) {
	const timeout = 300 * time.Millisecond
	got := make(chan context.Context, 1)
	s, _ := startServer(t, rpc.Config{Timeout: timeout}, func(s *rpc.Server) {
		s.Handle("x", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
			got <- ctx
			return w.Send(1) // returns at once; Done never called
		}))
	})
	c, err := rpc.NewClient(s.Addr().String(), rpc.WithClientLogger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close() // the connection stays open throughout
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := rpc.Call[int, int](ctx, c, "x", 1); err != nil {
		t.Fatal(err)
	}
	hctx := <-got
	// Wait until the handler's return has ended the context.
	for i := 0; hctx.Err() == nil; i++ {
		if i > 500 {
			t.Fatal("the context did not end after its handler returned")
		}
		time.Sleep(10 * time.Millisecond)
	}
	first := hctx.Err()
	dl, ok := hctx.Deadline()
	if !ok {
		t.Fatal("no deadline")
	}
	time.Sleep(time.Until(dl) + 100*time.Millisecond)
	if later := hctx.Err(); !errors.Is(later, first) || later != first {
		t.Errorf("ctx.Err() changed after it was non-nil: first %v, then (past the deadline) %v", first, later)
	}
}
