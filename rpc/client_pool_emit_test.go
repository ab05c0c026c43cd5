package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestPoolEmitSkipsDeadMember: in a pool, an Emit whose dial fails tries
// another connection, as Send does (TestClientPoolSkipsDeadMember). Of a
// pool of 4 with one member reset and new connections refused, an Emit
// sent to the dead member used to fail with ErrUnavailable, though 3 live
// connections could have taken the event.
func TestPoolEmitSkipsDeadMember(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("ok", rpc.Func(func(json.RawMessage) (any, error) { return "ok", nil }))
	})
	px := startProxy(t, srv.Addr().String(), copyThenClose)
	c := newTestClient(t, px.addr, rpc.WithPool(4, false), rpc.WithEagerConnect(),
		rpc.WithReconnectBackoff(100*time.Millisecond, time.Second))
	waitFor(t, "4 pool connections", func() bool { return px.count() == 4 })
	for range 8 { // every member has had a reply: none died young
		if err := c.Send(context.Background(), "ok", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	px.ln.Close() // new connections are refused
	px.resetOne()
	time.Sleep(500 * time.Millisecond) // let the client see the reset

	var failed []error
	for range 40 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := c.Emit(ctx, "evt", 1); err != nil {
			failed = append(failed, err)
		}
		cancel()
	}
	if len(failed) > 0 {
		t.Errorf("%d of 40 Emits failed with 3 of 4 pool connections live; first: %v (ErrUnavailable: %v)",
			len(failed), failed[0], errors.Is(failed[0], rpc.ErrUnavailable))
	}
}
