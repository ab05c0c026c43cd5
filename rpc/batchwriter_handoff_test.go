package rpc

import (
	"context"
	"net"
	"testing"
	"time"
)

// gatedConn is a net.Conn whose writes wait for the gate; it records them.
type gatedConn struct {
	net.Conn
	gate   chan struct{}
	writes chan []byte
}

func (c *gatedConn) Write(b []byte) (int, error) {
	<-c.gate
	c.writes <- append([]byte(nil), b...)
	return len(b), nil
}
func (c *gatedConn) SetWriteDeadline(time.Time) error { return nil }

// TestFlushForHandsOffOthersFrames: a lone call flushing with its context
// (flushFor with handOff) writes the buffer that holds its own frame and
// leaves the frames appended meanwhile, other calls', to the writer's
// goroutine: a cancellation of its context, or its deadline, must never
// cut their write short (it failed the connection under them).
func TestFlushForHandsOffOthersFrames(t *testing.T) {
	nc := &gatedConn{gate: make(chan struct{}), writes: make(chan []byte, 4)}
	w := &batchWriter{nc: nc}
	frame := func(s string) func([]byte) ([]byte, error) {
		return func(dst []byte) ([]byte, error) { return append(dst, s...), nil }
	}
	if _, _, _, err := w.appendFrame(frame("own")); err != nil {
		t.Fatal(err)
	}
	handedOff := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.flushFor(ctx, 0, func() { handedOff <- struct{}{} }) }()
	for w.queuedBytes() != 3 || !w.isFlushing() {
		time.Sleep(time.Millisecond)
	}
	if _, _, _, err := w.appendFrame(frame("other")); err != nil { // while the write is in progress
		t.Fatal(err)
	}
	nc.gate <- struct{}{} // the own buffer goes out
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("flushFor: %v", err)
		}
	case <-time.After(10 * time.Second):
		close(nc.gate) // let it finish
		<-done
		t.Fatal("flushFor went on to write the other call's frame itself")
	}
	if got := string(<-nc.writes); got != "own" {
		t.Errorf("wrote %q, want own", got)
	}
	select {
	case <-handedOff:
	default:
		t.Fatal("the other call's frame was not handed off")
	}
	cancel() // the own write is done: nothing of the caller's is left to cut
	if w.broken() || w.queuedBytes() != len("other") {
		t.Fatalf("after the hand-off: broken %v, %d bytes queued; want the other frame waiting, intact", w.broken(), w.queuedBytes())
	}
	go func() { nc.gate <- struct{}{} }()
	if err := w.flush(); err != nil { // the writer's goroutine
		t.Fatal(err)
	}
	if got := string(<-nc.writes); got != "other" {
		t.Errorf("the writer wrote %q, want other", got)
	}
}

func (w *batchWriter) isFlushing() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushing
}
