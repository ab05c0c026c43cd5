package rpc_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientCloseDuringDialInstallClosesIt: a dial that checked closed just
// before Close set it installs its connection after Close read the slot;
// Close must still close that connection (and wait for its goroutines),
// or it outlives Close, kept alive by heartbeats.
func TestClientCloseDuringDialInstallClosesIt(t *testing.T) {
	s, _ := startServer(t, rpc.Config{}, nil)
	c, err := rpc.NewClient(s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	rpc.SetTestHookDialed(func() {
		rpc.SetTestHookDialed(nil) // the first dial only
		go func() { c.Close(); close(closed) }()
		// Wait until Close waits for this dial.
		for deadline := time.Now().Add(ioTimeout); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			buf := make([]byte, 1<<20)
			st := string(buf[:runtime.Stack(buf, true)])
			for _, g := range strings.Split(st, "\n\n") {
				if strings.Contains(g, "(*Client).Close") && strings.Contains(g, "[chan receive") {
					return
				}
			}
		}
		t.Error("Close never waited for the dial")
	})
	t.Cleanup(func() { rpc.SetTestHookDialed(nil) })
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	c.Send(ctx, "nothing", nil, nil) // dials; the hook closes the client meanwhile
	select {
	case <-closed:
	case <-time.After(ioTimeout):
		t.Fatal("Close did not return")
	}
	if !eventually(ioTimeout, func() bool { return s.GetMetrics().ActiveConnections == 0 }) {
		t.Fatalf("the connection dialled during Close is still open after Close returned: %d active", s.GetMetrics().ActiveConnections)
	}
}
