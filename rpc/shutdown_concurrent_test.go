package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

type hookReplies struct {
	mu   sync.Mutex
	msgs []string
}

func (r *hookReplies) WriteReply(p []byte, last bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, string(p))
	return nil
}

func (r *hookReplies) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// TestConcurrentShutdownWaitsForHooks: a second Shutdown called while
// the first is still running the transports' OnShutdown hooks (a NATS
// subscription draining the messages it already received) must not
// return before the drain, nor close the server under it: the messages
// the hook hands to Dispatch are to be served, as docs/SERVER.md and
// OnShutdown promise ("those a transport received before it stopped
// taking new ones ... are served").
func TestConcurrentShutdownWaitsForHooks(t *testing.T) {
	s := rpc.NewServer(&rpc.Config{RetryAttempts: -1, RateLimitPerSec: -1}, discardLogger())
	s.Handle("ping", rpc.Func(func(json.RawMessage) (any, error) { return "pong", nil }))
	hookStarted := make(chan struct{})
	type result struct {
		err  error
		msgs []string
	}
	drained := make(chan result, 1)
	s.OnShutdown(func(ctx context.Context) {
		close(hookStarted)
		// A message received before the transport stopped, handed over
		// a little later (draining a subscription takes a round trip).
		time.Sleep(300 * time.Millisecond)
		w := &hookReplies{}
		err := s.Dispatch(context.Background(), rpc.Message{Packet: []byte(`{"pattern":"ping","data":null,"id":1}`)}, w)
		drained <- result{err, w.all()}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first := make(chan error, 1)
	go func() { first <- s.Shutdown(ctx) }()
	<-hookStarted
	secondDone := make(chan error, 1)
	go func() { secondDone <- s.Shutdown(ctx) }()

	var secondReturnedEarly bool
	var r result
	select {
	case err := <-secondDone:
		if err != nil {
			t.Errorf("second Shutdown: %v", err)
		}
		// Returned while the first Shutdown's hook is still draining?
		select {
		case r = <-drained:
		default:
			secondReturnedEarly = true
			r = <-drained
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second Shutdown did not return")
	}
	if err := <-first; err != nil {
		t.Errorf("first Shutdown: %v", err)
	}
	if secondReturnedEarly {
		t.Errorf("second Shutdown returned nil before the first Shutdown's OnShutdown hooks finished draining")
	}
	if r.err != nil || len(r.msgs) != 1 || !strings.Contains(r.msgs[0], `"pong"`) {
		t.Errorf("message drained by the hook during Shutdown: err %v (ErrShuttingDown: %v), replies %q; want it served",
			r.err, errors.Is(r.err, rpc.ErrShuttingDown), r.msgs)
	}
}
