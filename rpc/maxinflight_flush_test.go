package rpc_test

import (
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestRepliesFlushedWhileWaitingAtMaxInFlight: docs/SERVER.md, "several
// requests on one connection | run concurrently; replies in completion
// order; a slow handler never holds up the others", and "more than
// MaxInFlight running on one connection | the server stops reading that
// connection until one finishes; nothing is dropped". A fast request's
// reply, queued for the reader to flush before it next reads, is held
// while the reader waits for a slot (waitForSlot does not flush): the
// caller gets it only when one of the slow handlers ends.
func TestRepliesFlushedWhileWaitingAtMaxInFlight(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	s, _ := startServer(t, rpc.Config{MaxInFlight: 2, Timeout: 60 * time.Second}, func(s *rpc.Server) {
		registerExposure(s, release)
	})
	c := dial(t, s)
	// One write: the fast request, then two that block.
	c.write(reqFrame(`"sum"`, `[1,2]`, `"fast"`) +
		reqFrame(`"block"`, `null`, `"slow1"`) +
		reqFrame(`"block"`, `null`, `"slow2"`))
	waitMetric(t, s, "in_flight", int64(2), func(m rpc.Metrics) int64 { return m.InFlight })
	f, err := c.readFrameErr(ioTimeout)
	if err != nil {
		t.Fatalf("the fast request's reply did not arrive within %v while two slow handlers run: %v", ioTimeout, err)
	}
	if want := valueReply(`3`, `"fast"`); f != want {
		t.Fatalf("got %q, want %q", f, want)
	}
}
