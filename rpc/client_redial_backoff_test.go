package rpc_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientBacksOffFromServerThatClosesAtOnce: a server at MaxConnections
// (no idle connection to evict) accepts each new connection and closes it
// at once. The dial succeeds, so the client resets its backoff and the next
// call redials immediately: one caller looping over calls makes thousands
// of connections a second to a server that has said it is full (and that
// logs a warning for each). Connections that die before any reply should
// count as failed dials for the backoff (gRPC resets its backoff only once
// a connection is ready).
func TestClientBacksOffFromServerThatClosesAtOnce(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, rpc.Config{MaxConnections: 1, EvictIdleAfter: -1}, nil)
	hold, err := net.Dial("tcp", srv.Addr().String()) // fills the server
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	waitFor(t, "the server full", func() bool { return srv.GetMetrics().ActiveConnections == 1 })

	c := newTestClient(t, srv.Addr().String()) // default backoff: 50ms doubling to 5s
	calls := 0
	for end := time.Now().Add(time.Second); time.Now().Before(end); calls++ {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Send(ctx, "x", nil, nil)
		cancel()
		if err == nil || !(errors.Is(err, rpc.ErrConnectionLost) || errors.Is(err, rpc.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)) {
			t.Fatalf("call to a full server: %v", err)
		}
	}
	// With the backoff applied: 50+100+200+400 ms of waits, so a handful
	// of connections in a second. Allow ten times that.
	if n := srv.GetMetrics().RejectedConnections; n > 50 {
		m := c.Metrics()
		t.Errorf("in 1 s, %d calls made %d connections to a full server (reconnects %d, dial errors %d): no backoff",
			calls, n, m.Reconnects, m.DialErrors)
	}
}
