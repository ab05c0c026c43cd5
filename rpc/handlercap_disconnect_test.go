package rpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestDisconnectCancelsHandlerWhileHandOffHeldBack: docs/SERVER.md, "peer
// disconnects | the contexts of its running handlers are cancelled". At
// MaxHandlers a long handler keeps its connection's reader, and nothing
// else watches that socket: a peer that goes away is noticed only when
// the handler returns, so the handler runs on until its deadline (or
// forever with no Timeout) for a caller that is gone. Below the cap the
// new reader sees the close and cancels it at once.
func TestDisconnectCancelsHandlerWhileHandOffHeldBack(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	cancelled := make(chan string, 4)
	s, _ := startServer(t, rpc.Config{MaxHandlers: 1, Timeout: 60 * time.Second}, func(s *rpc.Server) {
		s.Handle("block", rpc.HandlerFunc(func(ctx context.Context, _ rpc.ResponseWriter, r *rpc.Request) error {
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				cancelled <- string(r.ID)
				return ctx.Err()
			}
		}))
	})

	// Below the cap, for reference: a's handler is handed off and a's
	// close cancels it.
	a := dial(t, s)
	a.write(reqFrame(`"block"`, "null", `"a"`))
	if !eventually(ioTimeout, func() bool { return limits(s).HandedOffRunning == 1 }) {
		t.Fatalf("a's handler was not handed off: %+v", limits(s))
	}
	// Keep the slot taken with a third connection's handler.
	c := dial(t, s)
	a.close()
	select {
	case id := <-cancelled:
		if id != `"a"` {
			t.Fatalf("cancelled %s, want \"a\"", id)
		}
	case <-time.After(ioTimeout):
		t.Fatal("below the cap: a's handler not cancelled after a closed")
	}
	c.write(reqFrame(`"block"`, "null", `"c"`))
	if !eventually(ioTimeout, func() bool { return limits(s).HandedOffRunning == 1 }) {
		t.Fatalf("c's handler was not handed off: %+v", limits(s))
	}

	// At the cap: b's handler stays on b's reader.
	b := dial(t, s)
	b.write(reqFrame(`"block"`, "null", `"b"`))
	if !eventually(ioTimeout, func() bool { return limits(s).HandoffsDeferred > 0 }) {
		t.Fatalf("no hand-off deferred: %+v", limits(s))
	}
	b.close()
	select {
	case id := <-cancelled:
		if id != `"b"` {
			t.Fatalf("cancelled %s, want \"b\"", id)
		}
	case <-time.After(ioTimeout):
		t.Fatalf("at MaxHandlers: b's handler still running %v after b disconnected (its context is not cancelled until its 60s deadline)", ioTimeout)
	}
}
