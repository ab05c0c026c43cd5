package rpc_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientQueuedBoundOneCallAfterAnother: WithMaxQueuedBytes promises
// that a call whose request would leave more than the bound waiting waits
// (the README: at most the bound waits on a connection, plus the requests
// of calls that start at the same moment). A call used to look only at
// what waited before it: finding a queue just under the bound, it added a
// request of any size, so two calls one after the other, to a server that
// reads nothing, left almost three times the bound waiting.
func TestClientQueuedBoundOneCallAfterAnother(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 8)
	go func() { // accepts, and reads nothing
		for {
			nc, err := ln.Accept()
			if err != nil {
				close(held)
				return
			}
			held <- nc
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for nc := range held {
			nc.Close()
		}
	})
	const limit = 16 << 20
	c := newTestClient(t, ln.Addr().String(), rpc.WithWriteTimeout(0), rpc.WithHeartbeat(0, 0), rpc.WithMaxQueuedBytes(limit))
	send := func(size int) {
		data := strings.Repeat("x", size)
		// Long enough for the request to be encoded and queued under -race.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := c.Send(ctx, "x", data, nil)
		t.Logf("call of %d KiB: %v; %d KiB now wait", size>>10, err, rpc.ClientQueuedForTest(c)>>10)
	}
	send(limit - 1<<10) // a request just under the bound, which the server never takes whole
	if q := rpc.ClientQueuedForTest(c); q == 0 || q > limit {
		// A server that reads nothing cannot have taken 16 MiB whole.
		t.Fatalf("the first request left %d bytes waiting; want some, within the bound", q)
	}
	send(2 * limit)
	if q := rpc.ClientQueuedForTest(c); q > limit {
		t.Errorf("%d KiB of requests wait on the connection, with no call in progress; WithMaxQueuedBytes is %d KiB", q>>10, limit>>10)
	}
}
