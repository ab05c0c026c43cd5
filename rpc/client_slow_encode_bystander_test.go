package rpc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
	"github.com/msgpattern/msgpattern/wire"
)

// blockingData's MarshalJSON, a slow encoding of a big request, tells
// started and holds until release closes.
type blockingData struct{ started, release chan struct{} }

func (d blockingData) MarshalJSON() ([]byte, error) {
	close(d.started)
	<-d.release
	return []byte(`1`), nil
}

// TestClientSlowEncodingSparesOtherCallsContext: Send "returns as soon as
// ctx ends". A call's data was encoded straight into the connection's
// write buffer, under its lock: while one call's MarshalJSON ran (a big or
// slow request), every other call on the connection waited for that lock
// in appendFrame, past its own deadline, and so did the reader's death
// handling. (The server encodes a reply's value before any lock for the
// same reason.)
func TestClientSlowEncodingSparesOtherCallsContext(t *testing.T) {
	t.Parallel()
	fs := startFakeServer(t, func(_ int, req wire.Packet, w func(string)) bool {
		w(rawFrame(`{"response":"ok","isDisposed":true,"id":` + string(req.ID) + `}`))
		return true
	})
	c := newTestClient(t, fs.addr, rpc.WithEagerConnect(), rpc.WithHeartbeat(0, 0))
	slow := blockingData{started: make(chan struct{}), release: make(chan struct{})}
	slowDone := make(chan error, 1)
	go func() { slowDone <- c.Send(context.Background(), "x", slow, nil) }()
	<-slow.started

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	returned := make(chan error, 1)
	go func() { returned <- c.Send(ctx, "x", 2, nil) }()
	select {
	case err := <-returned:
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("bystander Send = %v", err)
		}
	case <-time.After(2 * time.Second):
		close(slow.release)
		err := <-returned
		t.Errorf("a Send with a 100ms deadline was still blocked after 2s behind another call's encoding (then returned %v)", err)
	}
	select {
	case <-slow.release:
	default:
		close(slow.release)
	}
	if err := <-slowDone; err != nil {
		t.Errorf("slow Send = %v", err)
	}
}
