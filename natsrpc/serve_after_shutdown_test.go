package natsrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestServeAfterShutdown: Serve/Connect on an rpc.Server that has already
// shut down returns rpc.ErrServerClosed, as rpc's Start does, and
// subscribes nothing. It used to succeed: its hook came after Shutdown ran
// the hooks, so the instance joined the queue group and answered its share
// of the requests "Server shutting down", while a healthy instance of the
// group could have served them.
func TestServeAfterShutdown(t *testing.T) {
	ns := natstest.Run(t, nil)
	startInstance(t, ns.ClientURL(), rpc.Config{}) // healthy member of the group

	dead := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger())
	dead.Handle("sum", rpc.Func(func(json.RawMessage) (any, error) { return 0, nil }))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := dead.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	nc := connect(t, ns.ClientURL())
	if s, err := natsrpc.Serve(dead, nc); !errors.Is(err, rpc.ErrServerClosed) {
		if err == nil {
			s.Close()
		}
		t.Errorf("natsrpc.Serve on a shut-down rpc.Server: %v, want rpc.ErrServerClosed", err)
	}
	if n := nc.NumSubscriptions(); n != 0 {
		t.Errorf("a refused Serve left %d subscriptions", n)
	}
	s, err := natsrpc.Connect(dead, ns.ClientURL())
	if err == nil {
		defer s.Close()
		c := natstest.Dial(t, ns.ClientURL())
		failed := 0
		for range 40 {
			if _, err := rpc.Call[[]int, int](ctxT(t, 5*time.Second), c, "sum", []int{1, 2}); err != nil {
				failed++
			}
		}
		t.Errorf("natsrpc.Connect on a shut-down rpc.Server succeeded (want rpc.ErrServerClosed); %d of 40 calls to the queue group failed", failed)
	} else if !errors.Is(err, rpc.ErrServerClosed) {
		t.Errorf("natsrpc.Connect on a shut-down rpc.Server: %v, want rpc.ErrServerClosed", err)
	}
}

// TestServeRacingShutdown: Serve concurrent with the rpc.Server's Shutdown
// ends with nothing subscribed, whichever comes first: Serve refused, or
// served and then drained by Shutdown.
func TestServeRacingShutdown(t *testing.T) {
	ns := natstest.Run(t, nil)
	nc := connect(t, ns.ClientURL())
	for i := range 50 {
		srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger())
		srv.Handle("sum", rpc.Func(func(json.RawMessage) (any, error) { return 0, nil }))
		shut := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			shut <- srv.Shutdown(ctx)
		}()
		s, err := natsrpc.Serve(srv, nc)
		if err != nil && !errors.Is(err, rpc.ErrServerClosed) {
			t.Fatalf("round %d: Serve: %v", i, err)
		}
		if err := <-shut; err != nil {
			t.Fatalf("round %d: Shutdown: %v", i, err)
		}
		if n := nc.NumSubscriptions(); n != 0 {
			t.Fatalf("round %d: Serve (err %v) and Shutdown both returned, %d subscriptions left", i, err, n)
		}
		if s != nil {
			s.Close()
		}
	}
}
