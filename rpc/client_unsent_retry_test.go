package rpc_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestRoomWaiterNeverSentIsUnavailable: call B waits for room
// (WithMaxQueuedBytes) behind call A's request, which a server that reads
// nothing never takes, until heartbeats fail the connection. B's request
// never left, so B is sent on a new connection, as a call whose
// connection died before it registered already was (or fails matching
// ErrUnavailable). Woken by the connection's death while waiting (or
// refused by the failed writer), B used to fail with ErrConnectionLost,
// not retried, though its request had not left.
func TestRoomWaiterNeverSentIsUnavailable(t *testing.T) {
	t.Parallel()
	lost := 0
	const rounds = 3
	for round := range rounds {
		ln, accepted := listenNeverReadCounting(t)
		c := newTestClient(t, ln.Addr().String(), rpc.WithMaxQueuedBytes(1<<10), rpc.WithWriteTimeout(20*time.Second),
			rpc.WithHeartbeat(200*time.Millisecond, 2*time.Second))
		errA := make(chan error, 1)
		go func() { errA <- c.Send(context.Background(), "a", strings.Repeat("x", 16<<20), nil) }()
		// The first ping is queued too: no other goes out before the
		// heartbeat timeout, so B's request alone could add to the queue.
		waitFor(t, "A's write blocked, the first ping queued", func() bool {
			if c.Metrics().Heartbeats == 0 {
				return false
			}
			q := rpc.ClientQueuedForTest(c)
			if q == 0 {
				return false
			}
			time.Sleep(50 * time.Millisecond)
			return rpc.ClientQueuedForTest(c) == q
		})
		q := rpc.ClientQueuedForTest(c)
		ctxB, cancelB := context.WithTimeout(context.Background(), 6*time.Second)
		errB := make(chan error, 1)
		go func() { errB <- c.Send(ctxB, "b", nil, nil) }()
		time.Sleep(100 * time.Millisecond)
		// A's write may still take a little (the queue shrinks); B's
		// request, queued, would grow it.
		if now := rpc.ClientQueuedForTest(c); now > q {
			t.Fatalf("B's request was queued (%d → %d bytes): B is not waiting for room", q, now)
		}
		var err error
		select {
		case err = <-errB:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: B hung", round)
		}
		cancelB()
		c.Close()
		<-errA
		if errors.Is(err, rpc.ErrConnectionLost) && !errors.Is(err, rpc.ErrUnavailable) && accepted.Load() == 1 {
			lost++
			t.Logf("round %d: B, never queued nor written, failed with %q (not retried: %d connection)", round, err, accepted.Load())
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d calls whose request never left failed with ErrConnectionLost: not ErrUnavailable, not tried on a new connection", lost, rounds)
	}
}

// listenNeverReadCounting is listenNeverRead, counting the connections it
// accepted.
func listenNeverReadCounting(t *testing.T) (net.Listener, *atomic.Int32) {
	var n atomic.Int32
	return serveRawConns(t, 4096, func(net.Conn, <-chan struct{}) { n.Add(1) }), &n
}
