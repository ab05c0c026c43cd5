package rpc_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientCancelAbandonsWrite: README, "the server stops reading (its
// socket takes no bytes)": a call returns when its context ends, even while
// its request is being written. A context that is cancelled (rather than
// one with a deadline) ends the call as well.
func TestClientCancelAbandonsWrite(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err == nil {
			accepted <- nc // never read: the client's write stalls
		}
	}()
	c, err := rpc.NewClient(ln.Addr().String(), rpc.WithClientLogger(discardLogger()), rpc.WithHeartbeat(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	big := strings.Repeat("x", 32<<20) // far more than the socket buffers hold
	limit := 3*time.Second + 3*encodeCost(t, big)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Send(ctx, "upload", big, nil) }()
	nc := <-accepted
	defer nc.Close()
	time.Sleep(300 * time.Millisecond) // the write is stuck by now
	cancel()
	start := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Send: %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > limit {
			t.Errorf("Send returned %v after its context was cancelled", d)
		}
	case <-time.After(limit):
		t.Errorf("Send still blocked %v after its context was cancelled: the write is not abandoned (it waits for WithWriteTimeout without progress)", limit)
		nc.Close() // unblock the write, so the test ends
		<-done
	}
}
