package rpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

type nopWriter struct{}

func (nopWriter) WriteReply([]byte, bool) error { return nil }

// TestConcurrentShutdownsBothDrain: two Shutdown calls waiting for the same
// Dispatch in progress must both return nil once it ends ("Every call
// waits for the drain, also one made while another is in progress").
// dispatchIdle holds one signal: only one waiter woke, the other waited
// for its ctx and returned DeadlineExceeded (and force-closed the server);
// with context.Background() it never returned.
func TestConcurrentShutdownsBothDrain(t *testing.T) {
	s := rpc.NewServer(&rpc.Config{RetryAttempts: -1, RateLimitPerSec: -1}, discardLogger())
	entered, release := make(chan struct{}), make(chan struct{})
	s.Handle("slow", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
		close(entered)
		<-release
		return w.Send("ok")
	}))
	go s.Dispatch(context.Background(), rpc.Message{Packet: []byte(`{"pattern":"slow","data":null,"id":1}`)}, nopWriter{})
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, 2)
	go func() { errs <- s.Shutdown(ctx) }()
	go func() { errs <- s.Shutdown(ctx) }()
	for goroutinesIn("drainDispatches") < 2 { // both wait for the dispatch
		time.Sleep(time.Millisecond)
	}
	close(release)
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Errorf("Shutdown %d: %v (the dispatch ended long before its deadline)", i, err)
		}
	}
}
