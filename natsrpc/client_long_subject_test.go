package natsrpc_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientLongPatternLosesNothingElse: a call or event whose pattern's
// route key is too long for a NATS subject (its PUB line would pass the
// NATS server's 4 KiB control line) fails on its own with a clear error,
// before it is published: published, the NATS server answers "maximum
// control line exceeded" and closes the connection, and every other call
// in flight on the Client — and every later call — fails with
// rpc.ErrConnectionLost.
func TestClientLongPatternLosesNothingElse(t *testing.T) {
	ns := natstest.Run(t, nil)
	startInstance(t, ns.ClientURL(), rpc.Config{})
	c := natstest.Dial(t, ns.ClientURL())

	// An honest call in flight on the same Client, held by a plain NATS
	// responder until the refused call and event are done.
	responder := connect(t, ns.ClientURL())
	held := make(chan *nats.Msg, 1)
	if _, err := responder.Subscribe("held", func(m *nats.Msg) { held <- m }); err != nil {
		t.Fatal(err)
	}
	if err := responder.Flush(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var s string
		err := c.Send(ctx, "held", nil, &s)
		if err == nil && s != "ok" {
			err = errors.New("reply " + s + ", want ok")
		}
		done <- err
	}()
	var req *nats.Msg
	select {
	case req = <-held: // the call is in flight
	case err := <-done:
		t.Fatalf("the held call ended before the responder got it: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	long := map[string]any{"cmd": strings.Repeat("x", 5000)}
	err := c.Send(ctx, long, 1, nil)
	if err == nil {
		t.Fatal("a call to a 5 KB pattern succeeded")
	}
	if errors.Is(err, rpc.ErrConnectionLost) || !errors.Is(err, nats.ErrBadSubject) {
		t.Errorf("the call to a 5 KB pattern: %v; want an error of its own (nats.ErrBadSubject)", err)
	}
	if err := c.Emit(ctx, long, 1); !errors.Is(err, nats.ErrBadSubject) {
		t.Errorf("an event to a 5 KB pattern: %v; want nats.ErrBadSubject", err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Errorf("Flush after the refused call and event: %v", err)
	}
	if err := req.Respond([]byte(`"ok"`)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("another call in flight on the client failed because of it: %v", err)
	}
	var sum float64
	if err := c.Send(ctx, "sum", []float64{1, 2}, &sum); err != nil || sum != 3 {
		t.Errorf("a later call: %v, %v; want 3, nil", sum, err)
	}
}
