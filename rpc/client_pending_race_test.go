package rpc_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientCallsRacingConnectionLoss: calls registered while their
// connection dies, from many goroutines at once (the pending table is split
// into shards, each under its own lock), all return promptly with the
// connection's loss, or succeed: none is left waiting in a dead
// connection's table, nor counted in flight afterwards.
func TestClientCallsRacingConnectionLoss(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	accepting := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-accepting; conns.Wait() })
	go func() {
		defer close(accepting)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() {
				// Take some requests, answer none, and drop the
				// connection while calls are still being registered.
				nc.SetReadDeadline(time.Now().Add(2 * time.Millisecond))
				io.Copy(io.Discard, nc)
				nc.Close()
			})
		}
	}()

	c := newTestClient(t, ln.Addr().String(), rpc.WithReconnectBackoff(time.Millisecond, 2*time.Millisecond))
	const callers = 64
	stop := time.Now().Add(time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lost, other int
	var otherErr error
	for range callers {
		wg.Go(func() {
			for time.Now().Before(stop) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := c.Send(ctx, "sum", []int{1, 2}, nil)
				hung := ctx.Err() != nil
				cancel()
				mu.Lock()
				switch {
				case hung:
					mu.Unlock()
					t.Errorf("a call waited 5 s on a connection that had died: %v", err)
					return
				case errors.Is(err, rpc.ErrConnectionLost) || errors.Is(err, rpc.ErrUnavailable):
					lost++
				default:
					other++
					otherErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if other > 0 {
		t.Errorf("%d calls ended otherwise, last: %v", other, otherErr)
	}
	if lost == 0 {
		t.Error("no call saw its connection die: the test did not race anything")
	}
	if n := c.Metrics().InFlight; n != 0 {
		t.Errorf("in flight after every call returned: %d, want 0", n)
	}
	t.Logf("%d calls lost their connection", lost)
}
