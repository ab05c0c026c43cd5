package natsrpc_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
)

// TestClientDeepReplyNotLost: a responder answers at once with a
// valid reply packet whose value is nested 1001 deep (a NestJS ClientNats
// parses it with JSON.parse and delivers it). natsrpc.Client's
// classifyReply takes wire.ParseReply's depth error for "not JSON" and
// drops the message, so the call waits silently until its deadline (30 s
// by default).
func TestClientDeepReplyNotLost(t *testing.T) {
	ns := natstest.Run(t, nil)
	responder := connect(t, ns.ClientURL())
	deep := strings.Repeat("[", 1001) + strings.Repeat("]", 1001)
	if _, err := responder.Subscribe("deep", func(m *nats.Msg) {
		responder.Publish(m.Reply, []byte(`{"response":`+deep+`,"isDisposed":true,"id":`+requestID(m)+`}`))
	}); err != nil {
		t.Fatal(err)
	}
	responder.Flush()
	c := natstest.Dial(t, ns.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	err := c.Send(ctx, "deep", nil, nil)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send(deep) = %v after %v: the responder answered at once, but the reply was dropped; want the value (as NestJS) or a clear error", err, time.Since(start).Round(time.Millisecond))
	}
}

// TestClientOtherCallsRepliesNotForgeable: a program calls a
// third-party service ("evil") and a trusted one ("trusted") through one
// natsrpc.Client. Every call's reply subject is the client's one inbox plus
// a sequential token ("_INBOX.x.1", ".2", …), so the evil responder, having
// seen one reply subject, knows the next call's and answers it before the
// trusted service does. A NestJS ClientNats gives each call its own
// NUID inbox (and nats.go's request mux random tokens): a responder only
// ever learns the reply subject of the requests it received.
func TestClientOtherCallsRepliesNotForgeable(t *testing.T) {
	ns := natstest.Run(t, nil)
	evil := connect(t, ns.ClientURL())
	seen := make(chan string, 1)
	if _, err := evil.Subscribe("evil", func(m *nats.Msg) {
		seen <- m.Reply
		evil.Publish(m.Reply, []byte(`{"response":"evil's own answer","isDisposed":true,"id":`+requestID(m)+`}`))
	}); err != nil {
		t.Fatal(err)
	}
	evil.Flush()
	honest := connect(t, ns.ClientURL())
	got := make(chan *nats.Msg, 1)
	if _, err := honest.Subscribe("trusted", func(m *nats.Msg) { got <- m }); err != nil {
		t.Fatal(err)
	}
	honest.Flush()

	c := natstest.Dial(t, ns.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Send(ctx, "evil", nil, nil); err != nil {
		t.Fatal(err)
	}
	evilReply := <-seen

	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		var out string
		err := c.Send(ctx, "trusted", nil, &out)
		done <- result{out, err}
	}()
	var m *nats.Msg
	select {
	case m = <-got:
	case <-ctx.Done():
		t.Fatal("the trusted service got no request")
	}
	// The evil responder guesses the trusted call's reply subject.
	i := strings.LastIndexByte(evilReply, '.')
	n, _ := strconv.Atoi(evilReply[i+1:])
	for k := n + 1; k <= n+3; k++ {
		evil.Publish(evilReply[:i+1]+strconv.Itoa(k), []byte(`{"response":"forged","isDisposed":true}`))
	}
	evil.Flush()
	honest.Publish(m.Reply, []byte(`{"response":"genuine","isDisposed":true,"id":`+requestID(m)+`}`))
	honest.Flush()
	r := <-done
	t.Logf("evil saw reply subject %s; the trusted call's was %s", evilReply, m.Reply)
	if r.err != nil || r.out != "genuine" {
		t.Errorf("Send(trusted) = %q, %v; want \"genuine\": another service's responder answered this call", r.out, r.err)
	}
}
