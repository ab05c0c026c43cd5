package rpc_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestCloseDuringWriteIsClientClosed: a call whose request is being
// written when Close is called fails with ErrClientClosed, as Close
// documents. A lone call without a deadline, writing its request itself,
// used to get ErrConnectionLost ("use of closed network connection"): the
// error of its write on the socket Close closed, not the connection's
// recorded cause.
func TestCloseDuringWriteIsClientClosed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"no deadline", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Minute)
		}},
	} {
		ln := listenNeverRead(t)
		c := newTestClient(t, ln.Addr().String(), rpc.WithHeartbeat(0, 0))
		ctx, cancel := tc.ctx()
		errc := make(chan error, 1)
		go func() { errc <- c.Send(ctx, "b", strings.Repeat("x", 16<<20), nil) }()
		waitFor(t, "a write blocked", func() bool {
			q := rpc.ClientQueuedForTest(c)
			if q == 0 {
				return false
			}
			time.Sleep(100 * time.Millisecond)
			return rpc.ClientQueuedForTest(c) == q
		})
		c.Close()
		for range 1 {
			select {
			case err := <-errc:
				if !errors.Is(err, rpc.ErrClientClosed) {
					t.Errorf("%s: call being written at Close: %v, want ErrClientClosed", tc.name, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: call hung after Close", tc.name)
			}
		}
		cancel()
	}
}
