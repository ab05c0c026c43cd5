package rpc_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// lateWriter is an in-memory transport's ReplyWriter: it notes a reply
// written after the server's Shutdown returned.
type lateWriter struct {
	after *atomic.Bool
	late  *atomic.Int64
}

func (w lateWriter) WriteReply(p []byte, _ bool) error {
	if w.after.Load() && string(p) == `{"response":"pong","isDisposed":true,"id":1}` {
		w.late.Add(1)
	}
	return nil
}

// TestDispatchAdmittedAfterDrain: a transport that keeps handing messages
// to Dispatch while Shutdown drains (as OnShutdown allows: "messages still
// come in") must see each one either served before Shutdown returns or
// refused with ErrShuttingDown. A Dispatch that enters after Shutdown's
// drain saw no dispatch in progress, but before the server's context is
// cancelled, is neither: it runs with an already-cancelled context, is not
// waited for, and writes its reply after Shutdown returned nil.
func TestDispatchAdmittedAfterDrain(t *testing.T) {
	var cancelledAtStart, late atomic.Int64
	const workers = 1
	deadline := time.Now().Add(20 * time.Second)
	for iter := 0; iter < 300 && time.Now().Before(deadline); iter++ {
		s := rpc.NewServer(&rpc.Config{RetryAttempts: -1, RateLimitPerSec: -1}, discardLogger())
		s.Handle("ping", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
			if ctx.Err() != nil {
				cancelledAtStart.Add(1)
			}
			return w.Send("pong")
		}))
		var after atomic.Bool
		var wg sync.WaitGroup
		served := make(chan struct{}, 1)
		for g := 0; g < workers; g++ {
			wg.Add(1)
			go func() { // the transport's worker: one message after another
				defer wg.Done()
				w := lateWriter{&after, &late}
				for {
					err := s.Dispatch(context.Background(), rpc.Message{Packet: []byte(`{"pattern":"ping","data":null,"id":1}`)}, w)
					if errors.Is(err, rpc.ErrShuttingDown) {
						return
					}
					select {
					case served <- struct{}{}:
					default:
					}
				}
			}()
		}
		<-served
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.Shutdown(ctx)
		after.Store(true)
		cancel()
		wg.Wait()
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if n, l := cancelledAtStart.Load(), late.Load(); n > 0 || l > 0 {
			t.Fatalf("iteration %d: %d handler(s) started with the server's context already cancelled (admitted after the drain), %d reply(ies) written after Shutdown returned nil", iter, n, l)
		}
	}
}
