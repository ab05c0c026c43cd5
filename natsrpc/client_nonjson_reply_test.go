package natsrpc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
)

// TestClientNonJSONReplyEndsCall: the package doc says a reply to our
// Client "that is not a reply packet (none of "err", "response",
// "isDisposed": a nats.go responder's msg.Respond) is the call's whole and
// last value". A plain nats.go responder's msg.Respond([]byte("pong")) is
// not JSON: classifyReply drops it as junk, and the call — whose reply
// subject carries a token only that responder saw, so the message can be
// nobody else's — waits out its whole deadline (30 s by default) as if no
// one had answered. It must end at once, with an error saying why.
func TestClientNonJSONReplyEndsCall(t *testing.T) {
	ns := natstest.Run(t, nil)
	nc := connect(t, ns.ClientURL())
	sub, err := nc.Subscribe("plain", func(m *nats.Msg) { m.Respond([]byte("pong")) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	c := natstest.Dial(t, ns.ClientURL())

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	err = c.Send(ctx, "plain", 1, nil)
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send to a responder that answered %q at once: %v after %v; want the call ended at once with an error", "pong", err, time.Since(start).Round(time.Millisecond))
	}

	ctx2, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	for _, err := range c.Stream(ctx2, "plain", 1) {
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Stream from a responder that answered %q at once: %v; want the call ended at once with an error", "pong", err)
		}
		break
	}
}
