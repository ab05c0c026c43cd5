//go:build !(aix || plan9 || (freebsd && !cgo && !amd64 && !arm64))

package natsrpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestIdleWorkersShutdownWithEndedContext: as
// TestIdleShutdownWithEndedContext, but after a request has been answered:
// its worker goroutine lingers, idle, for a while (workerIdle), serving
// nothing. Shutdown with an ended context must still return nil (nothing
// was running: nothing was cut off); it raced the idle workers' exit
// against ctx.Done and returned context.Canceled most of the time.
func TestIdleWorkersShutdownWithEndedContext(t *testing.T) {
	ns := natstest.Run(t, nil)
	c := natstest.Dial(t, ns.ClientURL())
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	failed := 0
	for range 20 {
		srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1}, quietLogger())
		srv.Handle("sum", rpc.Func(func(json.RawMessage) (any, error) { return 0, nil }))
		nsrv, err := natsrpc.Connect(srv, ns.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Send(ctxT(t, 5*time.Second), "sum", nil, nil); err != nil {
			t.Fatal(err)
		}
		// The worker is done a moment after the caller has the reply;
		// idle, it lingers for workerIdle (5 s).
		time.Sleep(20 * time.Millisecond)
		if err := nsrv.Shutdown(ended); err != nil {
			failed++
		}
		srv.Close()
	}
	if failed > 0 {
		t.Errorf("Shutdown with an ended context of a natsrpc.Server whose workers were idle failed %d/20 times; want nil (nothing was running)", failed)
	}
}
