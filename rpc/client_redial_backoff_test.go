package rpc_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
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

// TestClientBacksOffFromServerThatSendsAFrameAndCloses: a server that
// accepts, sends one frame answering none of the client's calls (a foreign
// object, a reply to an id never sent) and closes at once was redialled
// with no backoff: any complete frame made the connection a served one,
// which resets the backoff. 2,400 dials a second.
func TestClientBacksOffFromServerThatSendsAFrameAndCloses(t *testing.T) {
	t.Parallel()
	for _, banner := range []string{rawFrame(`{}`), rawFrame(`{"id":"999999","response":1,"isDisposed":true}`)} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var accepts atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				accepts.Add(1)
				nc.Write([]byte(banner))
				nc.Close()
			}
		}()
		c := newTestClient(t, ln.Addr().String(), rpc.WithHeartbeat(0, 0), rpc.WithReconnectBackoff(50*time.Millisecond, 400*time.Millisecond))
		for end := time.Now().Add(time.Second); time.Now().Before(end); {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			c.Send(ctx, "x", nil, nil, rpc.Idempotent())
			cancel()
		}
		ln.Close()
		<-done
		// With the backoff: 50+100+200+400 ms of waits, a handful of
		// dials in the second. Allow ten times that.
		if n := accepts.Load(); n > 50 {
			t.Errorf("server sending %q and closing: %d dials in 1 s (backoff 50..400 ms)", banner, n)
		}
	}
}
