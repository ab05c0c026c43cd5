package rpc

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestClientWaitForRoomHonoursContext: a call waiting for room in the
// queue (WithMaxQueuedBytes) when nobody is flushing it yet has the
// writer's goroutine flush it, and gives up with its own context. It used
// to write the queue itself, with no deadline but the write timeout: a
// call allowed 50 ms was held 10 s by a server that does not read.
func TestClientWaitForRoomHonoursContext(t *testing.T) {
	c, err := NewClient("127.0.0.1:1", WithHeartbeat(0, 0), WithMaxQueuedBytes(1024)) // write timeout 10 s
	if err != nil {
		t.Fatal(err)
	}
	client, server := net.Pipe() // the server side never reads
	defer server.Close()
	cc := newClientConn(c, client)
	defer func() { cc.fail(ErrClientClosed); <-cc.done }()
	big := []byte(strings.Repeat("x", 4096))
	// Queued by a call that left the flush to the writer, not yet running.
	if _, _, _, err := cc.out.appendFrame(func(dst []byte) ([]byte, error) { return append(dst, big...), nil }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = cc.waitForRoom(ctx, 0)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waitForRoom with a 50 ms context returned after %v (%v)", d.Round(time.Millisecond), err)
	}
	if err != context.DeadlineExceeded {
		t.Errorf("waitForRoom: %v, want the context's deadline", err)
	}
}
