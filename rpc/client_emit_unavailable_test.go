package rpc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientEmitDialFailureIsUnavailable: ErrUnavailable "matches a
// client's failures that prove the request never reached a handler: the
// dial failed, no connection could be had" (transient.go). Send and Stream
// honour it; Emit returns the bare dial error, so errors.Is(err,
// ErrUnavailable) and IsTransient are false for an event that was
// provably never sent.
func TestClientEmitDialFailureIsUnavailable(t *testing.T) {
	t.Parallel()
	addr := deadAddr(t)

	c := newTestClient(t, addr, rpc.WithReconnectBackoff(time.Millisecond, 5*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Send(ctx, "x", nil, nil); !errors.Is(err, rpc.ErrUnavailable) {
		t.Fatalf("Send: %v; want ErrUnavailable", err)
	}
	err := c.Emit(ctx, "x", nil)
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Emit: %v, ctx %v", err, ctx.Err())
	}
	if !errors.Is(err, rpc.ErrUnavailable) || !rpc.IsTransient(err) {
		t.Errorf("Emit to a refused address: %v; errors.Is(err, ErrUnavailable) = %v, IsTransient = %v; want both true",
			err, errors.Is(err, rpc.ErrUnavailable), rpc.IsTransient(err))
	}
}
