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
// the 3 others are live. Calls and events that could use them must not
// fail, nor wait out the dead member's reconnect backoff. Every call the
// round-robin (or least-pending: the dead slot has 0 pending, so it wins
// ties) sent to the dead slot used to wait for its backoff, then fail with
// ErrUnavailable (10 of 40); and once calls were fixed, an Emit still did
// (1 of 40).
func TestClientPoolSkipsDeadMember(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		leastPending bool
		emit         bool
	}{
		{"round-robin", false, false},
		{"least-pending", true, false},
		{"emit", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
				s.Handle("ok", rpc.Func(func(json.RawMessage) (any, error) { return "ok", nil }))
			})
			px := startProxy(t, srv.Addr().String(), copyThenClose)
			c := newTestClient(t, px.addr, rpc.WithPool(4, tc.leastPending), rpc.WithEagerConnect(),
				rpc.WithReconnectBackoff(100*time.Millisecond, time.Second))
			waitFor(t, "4 pool connections", func() bool { return px.count() == 4 })
			if tc.emit {
				for range 8 { // every member has had a reply: none died young
					if err := c.Send(context.Background(), "ok", nil, nil); err != nil {
						t.Fatal(err)
					}
				}
			}
			px.ln.Close() // new connections are refused
			px.resetOne()
			time.Sleep(500 * time.Millisecond) // let the client see the reset

			var failed []error
			start := time.Now()
			for range 40 {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				var err error
				if tc.emit {
					err = c.Emit(ctx, "evt", 1)
				} else {
					err = c.Send(ctx, "ok", nil, nil)
				}
				if err != nil {
					failed = append(failed, err)
				}
				cancel()
			}
			if len(failed) > 0 {
				t.Errorf("%d of 40 failed in %v with 3 of 4 pool connections live; first: %v (ErrUnavailable: %v)",
					len(failed), time.Since(start).Round(time.Millisecond), failed[0], errors.Is(failed[0], rpc.ErrUnavailable))
			}
		})
	}
}
