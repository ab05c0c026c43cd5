package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientPoolSkipsDeadMember: of a pool of 4 connections one is reset
// and cannot be redialled for now (the server refuses new connections);
// the 3 others are live. Calls that could use them must not fail, nor wait
// out the dead member's reconnect backoff. Today every call that the
// round-robin (or least-pending: the dead slot has 0 pending, so it wins
// ties) sends to the dead slot waits for its backoff, then fails with
// ErrUnavailable: 10 of 40.
func TestClientPoolSkipsDeadMember(t *testing.T) {
	t.Parallel()
	for _, leastPending := range []bool{false, true} {
		name := map[bool]string{false: "round-robin", true: "least-pending"}[leastPending]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
				s.Handle("ok", rpc.Func(func(json.RawMessage) (any, error) { return "ok", nil }))
			})
			px := startProxy(t, srv.Addr().String(), copyThenClose)
			c := newTestClient(t, px.addr, rpc.WithPool(4, leastPending), rpc.WithEagerConnect(),
				rpc.WithReconnectBackoff(100*time.Millisecond, time.Second))
			waitFor(t, "4 pool connections", func() bool { return px.count() == 4 })
			px.ln.Close() // new connections are refused
			px.resetOne()
			time.Sleep(500 * time.Millisecond) // let the client see the reset

			var failed []error
			start := time.Now()
			for range 40 {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				if err := c.Send(ctx, "ok", nil, nil); err != nil {
					failed = append(failed, err)
				}
				cancel()
			}
			if len(failed) > 0 {
				t.Errorf("%d of 40 calls failed in %v with 3 of 4 pool connections live; first: %v (ErrUnavailable: %v)",
					len(failed), time.Since(start).Round(time.Millisecond), failed[0], errors.Is(failed[0], rpc.ErrUnavailable))
			}
		})
	}
}
