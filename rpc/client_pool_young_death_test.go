package rpc_test

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientPoolPassesOverMemberThatDiedYoung: WithPool promises that a
// member that is down and backing off is passed over while another can take
// the call. A member whose connection died young without a reply (the
// server accepts it and closes it at once: full) backs off, but that is
// decided only in get, after pick chose the member: pick sees "just died,
// not backing off", the call goes there and waits out the backoff while the
// other member's connection is live and idle.
func TestClientPoolPassesOverMemberThatDiedYoung(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, rpc.Config{MaxConnections: 2, EvictIdleAfter: -1}, func(s *rpc.Server) {
		s.Handle("one", rpc.Func(func(json.RawMessage) (any, error) { return 1, nil }))
	})
	hold, err := net.Dial("tcp", srv.Addr().String()) // one of the two places
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	waitFor(t, "the held connection", func() bool { return srv.GetMetrics().ActiveConnections == 1 })

	// Two members: one gets the last place, the other's connections are
	// accepted and closed at once.
	c := newTestClient(t, srv.Addr().String(), rpc.WithPool(2, false), rpc.WithReconnectBackoff(4*time.Second, 4*time.Second))
	for i := range 8 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		err := c.Send(ctx, "one", nil, nil)
		took := time.Since(start)
		cancel()
		if took > time.Second {
			t.Fatalf("call %d took %v (err %v) while a member's connection was live: it waited out the other member's backoff", i, took.Round(time.Millisecond), err)
		}
	}
}
