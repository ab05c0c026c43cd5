package main

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/natsrpc"
)

// TestNATSLoadChecksEveryReply: the NATS load checks "every reply ... to be
// 3", but each caller reuses one json.RawMessage, and natsrpc's Send leaves
// out untouched when the reply has no value ({"isDisposed":true}: a NestJS
// handler returning undefined): after one good reply, every valueless one
// passed the check as the earlier 3 and counted as a good request.
func TestNATSLoadChecksEveryReply(t *testing.T) {
	ns, url, err := startNATSServer(0)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	first := true
	if _, err := nc.Subscribe("sum", func(m *nats.Msg) {
		if first { // one good reply, then replies without a value
			first = false
			m.Respond([]byte(`{"response":3,"isDisposed":true}`))
			return
		}
		m.Respond([]byte(`{"isDisposed":true}`))
	}); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	c, err := natsrpc.Dial(url, natsrpc.WithCallTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lr := natsLoad(context.Background(), []*natsrpc.Client{c}, 1, 300*time.Millisecond)
	if lr.requests > 1 {
		t.Errorf("one reply was 3 and every other had no value, yet %d replies counted good, %d errors", lr.requests, lr.errors)
	}
}
