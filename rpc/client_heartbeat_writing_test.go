package rpc_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// slowBig encodes slowly (a big struct, a slow MarshalJSON) into a long
// JSON string.
type slowBig struct{}

func (slowBig) MarshalJSON() ([]byte, error) {
	time.Sleep(500 * time.Millisecond)
	return []byte(`"` + strings.Repeat("x", 16<<20) + `"`), nil
}

// TestHeartbeatNotStuckWriting: with WithWriteTimeout(0), heartbeats still
// find a server that reads nothing and fail the connection after their
// timeout (1 s here). The heartbeat goroutine used to write its ping
// itself, and so, the call's 16 MiB request (encoded slowly, left to the
// writer goroutine) being in the same buffer, wrote that too: the write
// never ended, the heartbeat's timeout was never checked again (1 ping
// sent, 0 failures) and the call waited for its own deadline (an hour).
// Pings are queued for the writer goroutine now.
func TestHeartbeatNotStuckWriting(t *testing.T) {
	t.Parallel()
	const rounds = 4
	stuck := 0
	for round := range rounds {
		ln := listenNeverRead(t)
		c := newTestClient(t, ln.Addr().String(), rpc.WithWriteTimeout(0),
			rpc.WithHeartbeat(100*time.Millisecond, time.Second), rpc.WithEagerConnect())
		errA := make(chan error, 1)
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		go func() { errA <- c.Send(ctx, "a", slowBig{}, nil) }()
		// The 5 s run from when the request is queued: encoding 16 MiB
		// takes seconds under -race on a loaded machine, and heartbeats
		// cannot (and need not) find the server dead before a byte of
		// the request can leave.
		var queuedAt time.Time
		tick := time.NewTicker(5 * time.Millisecond)
		giveUp := time.After(60 * time.Second)
		var err error
		done := false
	wait:
		for {
			select {
			case err = <-errA:
				done = true
				break wait
			case <-giveUp:
				break wait
			case now := <-tick.C:
				if queuedAt.IsZero() && rpc.ClientQueuedForTest(c) > 1<<20 {
					queuedAt = now
				}
				if !queuedAt.IsZero() && now.Sub(queuedAt) > 5*time.Second {
					break wait
				}
			}
		}
		tick.Stop()
		if done {
			t.Logf("round %d: %v", round, err)
			if !errors.Is(err, rpc.ErrConnectionLost) {
				t.Errorf("round %d: %v, want ErrConnectionLost", round, err)
			}
			c.Close()
			continue
		}
		stuck++
		t.Logf("round %d: the call is still waiting 5 s after its request was queued for a server that never reads (heartbeat timeout 1 s; request queued: %v); heartbeats sent %d, failures %d",
			round, !queuedAt.IsZero(), c.Metrics().Heartbeats, c.Metrics().HeartbeatFailures)
		c.Close()
		<-errA
	}
	if stuck > 0 {
		t.Errorf("%d of %d connections to a server that reads nothing were never found dead by heartbeats (WithWriteTimeout(0))", stuck, rounds)
	}
}
