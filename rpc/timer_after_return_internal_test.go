package rpc

import (
	"testing"
	"time"
)

// TestNoTimerArmedAfterReturn: the monitor may hand a request off at the
// moment its handler returns, after release stopped its timer and before
// the reply is marked complete. armTimeout then saw the request running
// and started a timer nothing stopped: it held the request (its Data
// aliasing the read chunk, no longer charged to the budget) until the
// deadline, hours with WithTimeout, and fired after Shutdown.
func TestNoTimerArmedAfterReturn(t *testing.T) {
	rc := &requestContext{deadline: monotime() + int64(time.Hour), state: stateRunning}
	rc.release(monotime()) // the handler returned
	rc.armTimeout()
	if tm := rc.timer.Load(); tm != releasedTimer {
		tm.Stop()
		t.Error("a timeout timer was armed for a request whose handler returned")
	}

	// Armed first, released after: release stops it.
	rc = &requestContext{deadline: monotime() + int64(time.Hour), state: stateRunning}
	rc.armTimeout()
	armed := rc.timer.Load()
	if armed == nil {
		t.Fatal("no timer armed for a running request")
	}
	rc.release(monotime())
	if armed.Stop() {
		t.Error("the timer of a request released after its hand-off was still pending")
	}
}
