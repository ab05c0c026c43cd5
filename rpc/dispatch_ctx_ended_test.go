package rpc_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestDispatchEndedContextCancelsAtOnce: "ctx, when it ends, cancels the
// handler's context" holds for a ctx that ended before Dispatch was
// called (a transport handing over what it received before its
// connection closed): the handler starts with its context already ended,
// as a TCP request read before the peer's end does. It used to start with
// a live one in most calls: context.AfterFunc runs the cancel on a
// goroutine of its own when ctx is already done.
func TestDispatchEndedContextCancelsAtOnce(t *testing.T) {
	t.Parallel()
	s := rpc.NewServer(&rpc.Config{RetryAttempts: -1}, discardLogger())
	defer s.Close()
	var live atomic.Int32
	s.Handle("h", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
		if ctx.Err() == nil {
			live.Add(1)
		}
		return w.Send(1)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	const n = 100
	for range n {
		if err := s.Dispatch(ctx, rpc.Message{Packet: []byte(`{"pattern":"h","data":null,"id":1}`)}, newRecorder()); err != nil {
			t.Fatal(err)
		}
	}
	if got := live.Load(); got != 0 {
		t.Errorf("%d of %d handlers started with a live context, though the transport's ctx had ended", got, n)
	}
}
