package rpc_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestGlobalRefusalKeepsPeerBudget: a request the shared (global) bucket
// refuses was not run, so it must not spend the connection's own token: a
// peer refused only because others used the global budget was then refused
// again by its own bucket, which it never used.
//
// The scenario needs its steps within the buckets' refill times (the
// global one 250 ms, a connection's 1 s); a step that took longer (a
// loaded machine) is tried again on fresh connections, and the test fails
// if no try could be timed.
func TestGlobalRefusalKeepsPeerBudget(t *testing.T) {
	s, _ := startServer(t, rpc.Config{
		RateLimitPerSec: 1, RateLimitBurst: 1, // each connection: one request, then one a second
		GlobalRateLimitPerSec: 4, GlobalRateLimitBurst: 1, // all together: one every 250 ms
	}, func(s *rpc.Server) { registerProbe(s) })
	call := func(c *client, id int) string {
		c.write(reqFrame(`"sum"`, `[1,2]`, strconv.Itoa(id)))
		return c.readFrame()
	}
	served := func(id int) string { return valueReply(`3`, strconv.Itoa(id)) }
	for try := range 5 {
		time.Sleep(300 * time.Millisecond) // the global bucket full again
		b, a := dial(t, s), dial(t, s)
		id := 10 * try
		if got := call(b, id+1); got != served(id+1) {
			t.Fatalf("b's first request: %q", got)
		}
		if call(a, id+2) == served(id+2) {
			continue // the global bucket had refilled already: too slow a step
		}
		refused := time.Now()
		time.Sleep(400 * time.Millisecond) // the global bucket refills (250 ms); a's own would need 1 s
		if time.Since(refused) > 900*time.Millisecond {
			continue // a's own bucket may have refilled: this try proves nothing
		}
		// a has had nothing run: its own token is still there.
		if got := call(a, id+3); got != served(id+3) {
			t.Fatalf("a request after a refusal by the global bucket alone: %q, want it served (a's own token was never used)", got)
		}
		return
	}
	t.Fatal("no try could be timed within the buckets' refill times (a loaded machine)")
}
