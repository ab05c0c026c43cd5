package rpc_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientDialWaitersFailWithTheDial: calls that arrive while the
// connection is being dialled wait for that dial. When it fails (the server
// is down), they fail with it (ErrUnavailable), as the dialling call does.
// They used to start, each in turn, a dial of their own after the backoff:
// the n-th caller waited for n dials and n backoffs, so with the server
// down a burst of N callers without deadlines was held for N times (dial
// timeout + backoff) and their goroutines piled up.
func TestClientDialWaitersFailWithTheDial(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	first := make(chan net.Conn, 1)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			if accepted.Add(1) == 1 {
				first <- nc // held: the client's TLS handshake waits
				continue
			}
			nc.Close() // the server is broken: every later dial fails at once
		}
	}()
	c := newTestClient(t, ln.Addr().String(),
		rpc.WithTLS(&tls.Config{InsecureSkipVerify: true}),
		rpc.WithDialTimeout(time.Minute),
		rpc.WithReconnectBackoff(time.Millisecond, time.Millisecond),
		rpc.WithHeartbeat(0, 0))

	const callers = 5
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	call := func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		errs <- c.Send(ctx, "x", nil, nil)
	}
	wg.Add(1)
	go call()
	nc := <-first // the first call is dialling
	for range callers - 1 {
		wg.Add(1)
		go call()
	}
	// Wait until every caller is in the slot's get: one dialling, the
	// others waiting for that dial.
	deadline := time.Now().Add(10 * time.Second)
	for goroutinesIn("rpc.(*clientSlot).get(") < callers {
		if time.Now().After(deadline) {
			t.Fatalf("only %d callers reached the dial", goroutinesIn("rpc.(*clientSlot).get("))
		}
		time.Sleep(time.Millisecond)
	}
	nc.Close() // the dial they all wait for fails
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, rpc.ErrUnavailable) {
			t.Errorf("Send = %v, want an error matching ErrUnavailable", err)
		}
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("%d dials for %d callers that all waited on one failed dial: each waiter dialled again in turn (want 1)", n, callers)
	}
}
