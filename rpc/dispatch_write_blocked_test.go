package rpc_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// blockingReplyWriter blocks its first WriteReply until release is closed:
// a transport applying backpressure.
type blockingReplyWriter struct {
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (w *blockingReplyWriter) WriteReply(p []byte, last bool) error {
	first := false
	w.once.Do(func() { first = true })
	if first {
		close(w.entered)
		<-w.release
	}
	return nil
}

// TestDispatchContextAnswersWhileWriteReplyBlocks: a transport's WriteReply
// may block, and a request's context must still answer meanwhile. The
// stream's first value is being written (blocked), its second waits to be
// written, and the deadline passes: the timeout reply is queued under the
// request's lock. That lock used to wait for the target's, held across the
// blocked WriteReply, and with it Err, Done and TimedOut in every goroutine.
func TestDispatchContextAnswersWhileWriteReplyBlocks(t *testing.T) {
	s := rpc.NewServer(&rpc.Config{Timeout: 50 * time.Millisecond, RetryAttempts: -1}, discardLogger())
	defer s.Close()
	ctxs := make(chan context.Context, 1)
	reqs := make(chan *rpc.Request, 1)
	s.Handle("s", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
		ctxs <- ctx
		reqs <- r
		w.Send(1) // held back, then written by the hold timer: blocks
		w.Send(2) // waits behind it
		return nil
	}))
	w := &blockingReplyWriter{entered: make(chan struct{}), release: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Dispatch(context.Background(), rpc.Message{Packet: []byte(`{"pattern":"s","data":null,"id":1}`)}, w)
	}()
	defer func() {
		close(w.release)
		<-done
	}()
	ctx, req := <-ctxs, <-reqs
	<-w.entered
	// The timer counts the timeout under the request's lock, just before
	// it queues the timeout reply: from then on, TimedOut and Err wait for
	// that lock.
	for s.GetMetrics().ErrorByKind.Timeout == 0 {
		time.Sleep(time.Millisecond)
	}
	answered := make(chan error, 1)
	go func() {
		req.TimedOut()
		answered <- ctx.Err()
	}()
	select {
	case err := <-answered:
		if err != context.DeadlineExceeded {
			t.Errorf("Err = %v, want %v", err, context.DeadlineExceeded)
		}
	case <-time.After(5 * time.Second): // a hang, not a speed limit
		t.Fatal("the request's context did not answer while the transport's WriteReply was blocked")
	}
}
