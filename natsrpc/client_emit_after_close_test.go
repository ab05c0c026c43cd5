package natsrpc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientEmitAfterClose: natsrpc.Client's doc promises
// rpc.ErrClientClosed after Close, as the TCP client's Emit returns it:
// Emit and Flush keep it too, and an event emitted after Close is not
// published, also on a connection of the caller's (NewClient), which
// stays open.
func TestClientEmitAfterClose(t *testing.T) {
	ns := natstest.Run(t, nil)
	nc := connect(t, ns.ClientURL())
	got := make(chan struct{}, 1)
	sub, err := nc.Subscribe("evt", func(*nats.Msg) { got <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	own := connect(t, ns.ClientURL())
	c, err := natsrpc.NewClient(own)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := c.Emit(context.Background(), "evt", 1); !errors.Is(err, rpc.ErrClientClosed) {
		t.Errorf("NewClient: Emit after Close = %v, want rpc.ErrClientClosed", err)
	}
	if err := c.Flush(context.Background()); !errors.Is(err, rpc.ErrClientClosed) {
		t.Errorf("NewClient: Flush after Close = %v, want rpc.ErrClientClosed", err)
	}
	own.Flush()
	nc.Flush()
	select {
	case <-got:
		t.Error("NewClient: an Emit after Close was published")
	case <-time.After(200 * time.Millisecond):
	}
	d := natstest.Dial(t, ns.ClientURL())
	d.Close()
	if err := d.Emit(context.Background(), "evt", 1); !errors.Is(err, rpc.ErrClientClosed) {
		t.Errorf("Dial: Emit after Close = %v, want rpc.ErrClientClosed", err)
	}
	if err := d.Flush(context.Background()); !errors.Is(err, rpc.ErrClientClosed) {
		t.Errorf("Dial: Flush after Close = %v, want rpc.ErrClientClosed", err)
	}
}
