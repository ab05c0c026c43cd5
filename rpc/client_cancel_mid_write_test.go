package rpc_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientCancelMidWriteSparesOtherCalls: call A's large request is being
// written over a slow but working path when call B starts; B's request
// queues behind A's. A is then cancelled: A returns, and its write goes on,
// so that B is sent and answered. (Cutting A's write short, which leaves
// the stream in the middle of a frame, failed the connection, and B with
// it, although B's request never left.)
func TestClientCancelMidWriteSparesOtherCalls(t *testing.T) {
	t.Parallel()
	var bRuns atomic.Int32
	srv, _ := startServer(t, rpc.Config{MaxFrameSize: 128 << 20}, func(s *rpc.Server) {
		s.Handle("big", rpc.Func(func(json.RawMessage) (any, error) { return "ok", nil }))
		s.Handle("small", rpc.Func(func(json.RawMessage) (any, error) { bRuns.Add(1); return "ok", nil }))
	})
	link := startSlowLink(t, srv.Addr().String())
	// No queue bound, so that B's request is queued behind A's at once
	// (with the default 16 MiB bound B waits for room instead, and fails
	// the same way).
	c := newTestClient(t, link.addr, rpc.WithMaxQueuedBytes(-1))
	if err := c.Send(context.Background(), "small", nil, nil); err != nil { // connect
		t.Fatal(err)
	}
	bRuns.Store(0)
	warm := link.up.Load()

	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	errA := make(chan error, 1)
	go func() { errA <- c.Send(ctxA, "big", strings.Repeat("x", 8<<20), nil) }()
	// A's request is on its way (and, at 3 MB/s, will be for seconds).
	waitFor(t, "A's request being written", func() bool { return link.up.Load() > warm+(256<<10) })

	errB := make(chan error, 1)
	go func() { errB <- c.Send(context.Background(), "small", nil, nil) }()
	waitFor(t, "B pending", func() bool { return c.Metrics().InFlight == 2 })
	cancelA()
	<-errA

	select {
	case err := <-errB:
		if err != nil {
			t.Errorf("call B failed because call A was cancelled: %v (B ran %d times on the server)", err, bRuns.Load())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("call B hung")
	}
}
