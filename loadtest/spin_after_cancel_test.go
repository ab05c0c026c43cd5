package loadtest_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/loadtest"
)

// countingCtx counts the calls of Done: measure's select asks for it once
// per turn of its loop.
type countingCtx struct {
	context.Context
	dones atomic.Int64
}

func (c *countingCtx) Done() <-chan struct{} { c.dones.Add(1); return c.Context.Done() }

// TestCancelledRunDoesNotSpin: once the caller's ctx ends, measure's loop
// keeps selecting on ctx.Done(), ready forever, until the load's goroutines
// are gone: a core burnt at 100% for as long as a call takes to return
// (RunCalls: a call slow to notice its ctx; msgpattern bench on Ctrl-C).
func TestCancelledRunDoesNotSpin(t *testing.T) {
	base, cancel := context.WithCancel(context.Background())
	ctx := &countingCtx{Context: base}
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	var once atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		loadtest.RunCalls(ctx, loadtest.Config{Duration: time.Minute}, func(context.Context, int) (string, error) {
			if once.CompareAndSwap(false, true) {
				started <- struct{}{}
				<-release // a call that takes a while to return once ctx ended
			}
			return "", nil
		})
	}()
	<-started
	cancel()
	before := ctx.dones.Load()
	// Wait until the loop has turned a million times, or a second passed
	// (a loop that waits turns a handful of times).
	deadline := time.Now().Add(time.Second)
	for ctx.dones.Load()-before < 1_000_000 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	n := ctx.dones.Load() - before
	close(release)
	<-done
	if n >= 1_000_000 {
		t.Errorf("after cancel, with one call still running, the run's loop asked ctx.Done() %d times: it spins", n)
	}
}
