package rpc_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientNegativeBackoffMax: WithReconnectBackoff with a negative
// maximum (meant as "no backoff", or a sign mistake) panics at the first
// failed dial: Client.backoff calls rand.Int64N(d/2+1) with d the negative
// maximum. The panic happens in clientSlot.get with the slot's mutex held
// and its dialing channel open, so a caller that recovers it (net/http
// recovers handler panics) is left with a wedged client: every later call
// blocks on the mutex past its context, and Close never returns.
func TestClientNegativeBackoffMax(t *testing.T) {
	t.Parallel()
	addr := deadAddr(t)
	c, err := rpc.NewClient(addr, rpc.WithClientLogger(discardLogger()), rpc.WithHeartbeat(0, 0),
		rpc.WithReconnectBackoff(time.Millisecond, -time.Second))
	if err != nil {
		t.Fatal(err)
	}
	send := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		return c.Send(ctx, "x", nil, nil)
	}
	first := send()
	second := make(chan error, 1)
	go func() { second <- send() }()
	select {
	case err := <-second:
		t.Logf("first Send = %v; second Send = %v", first, err)
		c.Close()
		if first != nil && strings.HasPrefix(first.Error(), "panic:") {
			t.Fatalf("first Send: %v", first)
		}
	case <-time.After(5 * time.Second):
		// Close would hang too: the client is leaked on purpose.
		t.Fatalf("first Send = %v; a second Send with a 500 ms deadline still blocked after 5 s (the slot's mutex was left locked)", first)
	}
}
