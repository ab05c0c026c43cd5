package rpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// slowJSON is a reply value whose encoding takes as long as the test says
// (a large value, or a MarshalJSON doing real work).
type slowJSON struct {
	entered chan struct{}
	unblock chan struct{}
}

func (v slowJSON) MarshalJSON() ([]byte, error) {
	close(v.entered)
	<-v.unblock
	return []byte(`"big"`), nil
}

// TestMonitorNeverWaitsOnARequestLock: ARCHITECTURE.md: "The monitor,
// accept, close and Shutdown never wait on a request's lock or a socket".
// The monitor armed the timeout timer of each request it hands off with
// rc.mu held (armTimeout), and a handler holds rc.mu while its reply value
// is encoded (Send → writeValueLocked → MarshalJSON). A handler whose reply
// took long to encode thus stopped the one server-wide monitor: no other
// connection's slow handler was handed off meanwhile, and the fast requests
// pipelined behind them waited.
func TestMonitorNeverWaitsOnARequestLock(t *testing.T) {
	t.Parallel()
	v := slowJSON{entered: make(chan struct{}), unblock: make(chan struct{})}
	releaseB := make(chan struct{})
	srv, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("encodeSlowly", rpc.HandlerFunc(func(_ context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
			return w.Send(v)
		}))
		s.Handle("slow", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
			select {
			case <-releaseB:
			case <-ctx.Done():
			}
			return w.Send("slow")
		}))
		s.Handle("fast", rpc.HandlerFunc(func(_ context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
			return w.Send("fast")
		}))
	})
	defer close(releaseB)
	defer close(v.unblock)

	a := dial(t, srv)
	a.write(reqFrame(`"encodeSlowly"`, "null", `"a"`))
	<-v.entered
	// a's handler is handed off (it runs long) while encoding its reply.
	if !eventually(ioTimeout, func() bool { return srv.GetMetrics().HandedOff >= 1 }) {
		t.Fatal("a's handler was not handed off")
	}

	// Another connection: a slow request, a fast one pipelined behind it.
	b := dial(t, srv)
	b.write(reqFrame(`"slow"`, "null", `"s"`) + reqFrame(`"fast"`, "null", `"f"`))
	f, err := b.readFrameErr(3 * time.Second)
	if err != nil {
		t.Fatalf("b's fast request held up behind its slow one while another connection's reply encodes (handed_off=%d): %v",
			srv.GetMetrics().HandedOff, err)
	}
	if f != valueReply(`"fast"`, `"f"`) {
		t.Fatalf("got %q, want the fast reply", f)
	}
}
