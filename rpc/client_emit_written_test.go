package rpc_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// gatedListener accepts one connection and reads nothing from it until
// open is called; then it reads everything until the connection ends and
// returns what it read.
type gatedListener struct {
	ln   net.Listener
	gate chan struct{}
	got  chan []byte
}

func listenGated(t *testing.T) *gatedListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedListener{ln: ln, gate: make(chan struct{}), got: make(chan []byte, 1)}
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		<-g.gate
		var b []byte
		buf := make([]byte, 64<<10)
		for {
			nc.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, err := nc.Read(buf)
			b = append(b, buf[:n]...)
			if err != nil {
				break
			}
		}
		g.got <- b
	}()
	t.Cleanup(func() { ln.Close() })
	return g
}

func (g *gatedListener) open() []byte {
	close(g.gate)
	select {
	case b := <-g.got:
		return b
	case <-time.After(10 * time.Second):
		return nil
	}
}

// TestEmitNilMeansWritten: an Emit with no call in flight returns once its
// event is written, or with an error. Emit B, finding Emit A's write in
// progress (the server not reading for the moment), used to return nil at
// once, its event only queued; A's context then ended, the connection
// failed and B's event, reported sent, was dropped. B now waits for the
// write of its event, and gets the failure.
func TestEmitNilMeansWritten(t *testing.T) {
	t.Parallel()
	g := listenGated(t)
	c := newTestClient(t, g.ln.Addr().String(), rpc.WithHeartbeat(0, 0))
	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	errA := emitUntilBlocked(t, c, ctxA)
	errB := make(chan error, 1)
	go func() { errB <- c.Emit(context.Background(), "b-marker", "B") }()
	var bErr error
	bReturned := false
	select {
	case bErr = <-errB:
		bReturned = true
	case <-time.After(500 * time.Millisecond):
	}
	cancelA()
	t.Logf("A: %v", <-errA)
	if !bReturned {
		bErr = <-errB
	}
	got := g.open()
	received := bytes.Contains(got, []byte("b-marker"))
	t.Logf("Emit B returned %v before A was cancelled: %v; server received B's event: %v (%d bytes read)", bErr, bReturned, received, len(got))
	if bErr == nil && !received {
		t.Errorf("Emit B returned nil (no call in flight: \"returns once the event is written\"), but its event was never sent: dropped when Emit A's context ended")
	}
}

// TestEmitGivenUpBehindAWriteIsTakenBack: an Emit waiting for another
// goroutine's write to take its event returns its context's error when
// that ends first, and its event, the last queued, is taken back: it does
// not go out when the write goes on, so that the error still means the
// event was not sent. (Emit A's 16 MiB event, written by A itself, is
// stuck until the server reads. No call is in flight: beside one, an Emit
// returns once its event is queued.)
func TestEmitGivenUpBehindAWriteIsTakenBack(t *testing.T) {
	t.Parallel()
	g := listenGated(t)
	c := newTestClient(t, g.ln.Addr().String(), rpc.WithHeartbeat(0, 0))
	ctxA, cancelA := context.WithTimeout(context.Background(), time.Minute)
	defer cancelA()
	errA := make(chan error, 1)
	go func() { errA <- c.Emit(ctxA, "a-marker", strings.Repeat("x", 16<<20)) }()
	waitFor(t, "A's write blocked", func() bool {
		q := rpc.ClientQueuedForTest(c)
		if q == 0 {
			return false
		}
		time.Sleep(100 * time.Millisecond)
		return rpc.ClientQueuedForTest(c) == q
	})
	ctxB, cancelB := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelB()
	if err := c.Emit(ctxB, "b-marker", "B"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Emit B behind a stuck write: %v, want context.DeadlineExceeded", err)
	}
	got := g.open() // A's write goes on now
	cancelA()
	<-errA
	if !bytes.Contains(got, []byte("a-marker")) {
		t.Fatalf("A's event did not reach the server (%d bytes read)", len(got))
	}
	if bytes.Contains(got, []byte("b-marker")) {
		t.Errorf("Emit B returned an error, yet its event reached the server")
	}
}

// emitUntilBlocked emits 16 KiB events on c under ctx until the socket
// takes no more, the last Emit then blocked in its own write; the channel
// gets the error that ended them.
func emitUntilBlocked(t *testing.T, c *rpc.Client, ctx context.Context) <-chan error {
	t.Helper()
	errs := make(chan error, 1)
	go func() {
		for {
			if err := c.Emit(ctx, "a", strings.Repeat("x", 16<<10)); err != nil {
				errs <- err
				return
			}
		}
	}()
	// Bytes queued that do not move for half a second: on a loaded
	// machine a shorter pause may be a writer not yet scheduled, whose
	// write then completes.
	waitForUpTo(t, 20*time.Second, "an Emit blocked in its write", func() bool {
		q := rpc.ClientQueuedForTest(c)
		if q == 0 {
			return false
		}
		time.Sleep(500 * time.Millisecond)
		return rpc.ClientQueuedForTest(c) == q
	})
	return errs
}
