package rpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
	"github.com/msgpattern/msgpattern/wire"
)

// TestClientStreamIdempotentRetry: Idempotent says a call whose connection
// fails before the reply is sent again on a new connection. Client.Stream
// takes CallOptions, but ignored it: a stream whose connection died before
// any value came failed with ErrConnectionLost, where a Send is resent.
func TestClientStreamIdempotentRetry(t *testing.T) {
	t.Parallel()
	fake := startFakeServer(t, func(conn int, req wire.Packet, w func(string)) bool {
		if conn == 1 {
			return false // hang up without answering
		}
		id := string(req.ID)
		w(rawFrame(`{"response":1,"id":`+id+`}`) + rawFrame(`{"response":2,"id":`+id+`}`) + rawFrame(`{"isDisposed":true,"id":`+id+`}`))
		return true
	})
	c := newTestClient(t, fake.addr, rpc.WithHeartbeat(0, 0), rpc.WithReconnectBackoff(time.Millisecond, 5*time.Millisecond))
	var got []int
	for v, err := range rpc.StreamOf[int](context.Background(), c, "s", nil, rpc.Idempotent()) {
		if err != nil {
			t.Fatalf("idempotent stream after %v: %v; want it resent on a new connection, as Idempotent documents", got, err)
		}
		got = append(got, v)
	}
	if len(got) != 2 || got[0] != 1 || got[1] != 2 || c.Metrics().Retries != 1 || c.Metrics().InFlight != 0 {
		t.Fatalf("got %v, %d retries, %d in flight; want [1 2], 1 and 0", got, c.Metrics().Retries, c.Metrics().InFlight)
	}
}
