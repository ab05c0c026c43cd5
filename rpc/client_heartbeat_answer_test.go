package rpc_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestHeartbeatAnsweredBeforeTimed: the heartbeat loop took a ping's
// time (to judge its answer by) after queueing it and waking the writer.
// A server that answers at once could answer before the loop read the
// clock: the answer then looked older than the ping, the ping unanswered,
// and a healthy server was declared dead after HeartbeatTimeout. Several
// clients at once, each with a call encoding slowly beside its pings
// (the writer then idle, the loop more often descheduled), made it show.
func TestHeartbeatAnsweredBeforeTimed(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for range 3 {
		ln := listenSlowReader(t, 64<<10, 0) // answers every call and ping at once
		c := newTestClient(t, ln.Addr().String(), rpc.WithHeartbeat(50*time.Millisecond, 500*time.Millisecond), rpc.WithEagerConnect())
		wg.Go(func() {
			c.Send(context.Background(), "x", slowUnencodable{}, nil) // about 2 s
			time.Sleep(600 * time.Millisecond)
			if m := c.Metrics(); m.HeartbeatFailures != 0 {
				t.Errorf("a server that answers every ping at once was declared dead by heartbeats (%d pings, %d failures)", m.Heartbeats, m.HeartbeatFailures)
			}
		})
	}
	wg.Wait()
}
