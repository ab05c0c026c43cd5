package rpc_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
	"github.com/msgpattern/msgpattern/wire"
)

// TestClientStreamStopsAtContextEnd: a stream whose values arrive faster
// than its consumer takes them. Once the call's context has ended, the
// next step of the iteration must end it with the context's error (as
// Send returns as soon as ctx ends). The iterator instead keeps yielding
// every value already buffered (up to WithMaxStreamBuffer: 16 MiB, some
// 260,000 small values by default), checking ctx only when its queue is
// empty; a producer that keeps the queue non-empty keeps the call going
// past its deadline indefinitely.
func TestClientStreamStopsAtContextEnd(t *testing.T) {
	t.Parallel()
	const values = 1000
	fs := startFakeServer(t, func(_ int, req wire.Packet, w func(string)) bool {
		id := string(req.ID)
		if string(req.Pattern) == `"many"` {
			w(strings.Repeat(rawFrame(`{"response":1,"id":`+id+`}`), values) +
				rawFrame(`{"isDisposed":true,"id":`+id+`}`))
			return true
		}
		// "sync": answered after every frame of the stream was written on
		// this connection; its reply tells the client has read them all.
		w(rawFrame(`{"response":"ok","isDisposed":true,"id":` + id + `}`))
		return true
	})
	c := newTestClient(t, fs.addr, rpc.WithHeartbeat(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	taken, afterCancel := 0, 0
	var last error
	for v, err := range c.Stream(ctx, "many", nil) {
		if err != nil {
			last = err
			break
		}
		taken++
		if taken == 1 {
			cancel()
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := c.Send(sctx, "sync", nil, nil); err != nil {
				t.Fatalf("sync: %v", err)
			}
			scancel()
			continue
		}
		_ = v
		afterCancel++
	}
	if afterCancel > 0 || !errors.Is(last, context.Canceled) {
		t.Fatalf("after its context was cancelled the stream yielded %d more values and ended with %v; want it to end at once with context.Canceled", afterCancel, last)
	}
}
