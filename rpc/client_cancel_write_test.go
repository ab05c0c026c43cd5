package rpc_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
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
	ln, accepted := acceptOne(t)
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

// acceptOne listens and hands over the one connection it accepts, with a
// small receive buffer and not read: the client's big writes soon stall.
func acceptOne(t *testing.T) (net.Listener, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err == nil {
			nc.(*net.TCPConn).SetReadBuffer(128 << 10)
			accepted <- nc
		}
	}()
	return ln, accepted
}

// readRawFrame reads one "<len>#<body>" frame of ASCII text (units are bytes).
func readRawFrame(br *bufio.Reader) ([]byte, error) {
	hdr, err := br.ReadString('#')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSuffix(hdr, "#"))
	if err != nil {
		return nil, err
	}
	body := make([]byte, n)
	_, err = io.ReadFull(br, body)
	return body, err
}

// TestClientCancelSparesOtherCallsWrite: a lone call writes its request
// itself, and the same flush goes on to write the requests other calls
// queued meanwhile. Cancelling the lone call's context once its own request
// has been written must not fail the connection under the request of
// another call, whose context is alive: that call was never cancelled.
func TestClientCancelSparesOtherCallsWrite(t *testing.T) {
	ln, accepted := acceptOne(t)
	c, err := rpc.NewClient(ln.Addr().String(), rpc.WithClientLogger(discardLogger()), rpc.WithHeartbeat(0, 0), rpc.WithWriteTimeout(time.Minute), rpc.WithMaxQueuedBytes(1<<30))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	big := strings.Repeat("x", 16<<20) // far more than the socket buffers hold
	settle := time.Second + 4*encodeCost(t, big)

	// A, alone on the connection, writes its request itself; the server
	// reads nothing yet, so the write is stuck.
	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	doneA := make(chan error, 1)
	go func() { doneA <- c.Send(ctxA, "a", big, nil) }()
	nc := <-accepted
	defer nc.Close()
	time.Sleep(settle)

	// B queues its request behind A's: A's flush will write it.
	ctxB, cancelB := context.WithTimeout(context.Background(), time.Minute)
	defer cancelB()
	doneB := make(chan error, 1)
	var out string
	go func() { doneB <- c.Send(ctxB, "b", big, &out) }()
	time.Sleep(settle)

	// The server takes A's whole request: A's write completes, and its
	// flush goes on to write B's, which is stuck in turn.
	br := bufio.NewReaderSize(nc, 64<<10)
	if _, err := readRawFrame(br); err != nil {
		t.Fatalf("reading A's request: %v", err)
	}
	time.Sleep(settle)

	// A gives up: its request is out, nothing of A is left to abandon.
	cancelA()

	// The server reads B's request and answers it.
	go func() {
		body, err := readRawFrame(br)
		if err != nil {
			return
		}
		i := bytes.LastIndex(body, []byte(`"id":`))
		if i < 0 {
			return
		}
		id := strings.TrimSuffix(string(body[i+len(`"id":`):]), "}")
		nc.Write([]byte(valueReply(`"ok"`, id)))
	}()
	select {
	case err := <-doneB:
		if err != nil {
			t.Errorf("B, whose context is alive, failed: %v (errors.Is(err, context.Canceled) = %v): A's cancellation failed the connection while B's request was being written", err, errors.Is(err, context.Canceled))
		} else if out != "ok" {
			t.Errorf("B got %q, want ok", out)
		}
	case <-time.After(time.Minute):
		t.Fatal("B did not return")
	}
	select {
	case err := <-doneA:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("A: %v, want context.Canceled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("A did not return")
	}
}

// TestClientEmitErrorMeansNotSent: Emit's documentation says "An error
// means the event was not sent." An Emit of more than 64 KiB alone on its
// connection is handed to the writer goroutine and Emit waits; when its
// context ends it returns the context's error, yet the writer goroutine
// goes on and the whole event reaches the server. A caller that retries a
// failed Emit delivers the event twice.
func TestClientEmitErrorMeansNotSent(t *testing.T) {
	ln, accepted := acceptOne(t)
	// Connected before the Emit: with a lazy dial, a loaded machine spent
	// the Emit's whole second encoding 16 MiB (-race), the Emit failed
	// without dialling, and the test waited for a connection for ever.
	c, err := rpc.NewClient(ln.Addr().String(), rpc.WithClientLogger(discardLogger()),
		rpc.WithHeartbeat(0, 0), rpc.WithWriteTimeout(time.Minute), rpc.WithEagerConnect())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var nc net.Conn
	select {
	case nc = <-accepted:
	case <-time.After(ioTimeout):
		t.Fatal("the client did not connect")
	}
	defer nc.Close()

	big := strings.Repeat("x", 16<<20) // far more than the socket buffers hold
	// Long enough for the event to be encoded and its write to be under
	// way (and stuck) when the context ends.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second+4*encodeCost(t, big))
	defer cancel()
	emitErr := c.Emit(ctx, "evt", big) // the server reads nothing yet
	if emitErr == nil {
		t.Fatal("Emit of 16 MiB alone on its connection returned nil, though the server has read nothing")
	}

	// Now the server reads: does the event arrive, whole?
	nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	body, err := readRawFrame(bufio.NewReaderSize(nc, 1<<20))
	switch {
	case errors.Is(err, strconv.ErrSyntax):
		t.Fatalf("bad frame header: %v", err)
	case err != nil:
		return // nothing arrived, or cut short: the event was not delivered
	}
	if bytes.Contains(body, []byte(`"evt"`)) {
		t.Fatalf("Emit returned %v, yet the whole event (%d bytes) reached the server", emitErr, len(body))
	}
}
