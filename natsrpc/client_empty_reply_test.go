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

// TestClientEmptyReplyEndsCall: a reply with an empty body (a plain
// responder's msg.Respond(nil), or a NATS micro endpoint's error reply,
// whose body is empty and whose error is in the Nats-Service-Error
// headers) ends the call at once with an *rpc.Error, as it ends a NestJS
// ClientNats call (v11 and v12: createSubscriptionHandler,
// `rawPacket?.length === 0` → an EmptyResponseException, isDisposed);
// dropped as "not JSON", the call would wait out its whole deadline (30 s
// by default). A stream ends with the same error. So does a reply that is
// not JSON at all (a plain responder's msg.Respond([]byte("pong"))): the
// reply subject's token is the call's alone, so it is the call's answer,
// one it cannot take; it ends at once with an error saying so (not an
// *rpc.Error: nothing remote was said).
func TestClientEmptyReplyEndsCall(t *testing.T) {
	ns := natstest.Run(t, nil)
	nc := connect(t, ns.ClientURL())
	subjects := []string{"empty", "micro-error", "not-json"}
	for _, subj := range subjects {
		sub, err := nc.Subscribe(subj, func(m *nats.Msg) {
			if subj == "not-json" {
				m.Respond([]byte("pong"))
				return
			}
			r := nats.NewMsg(m.Reply)
			if subj == "micro-error" {
				r.Header.Set("Nats-Service-Error", "boom")
				r.Header.Set("Nats-Service-Error-Code", "500")
			}
			m.RespondMsg(r)
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	c := natstest.Dial(t, ns.ClientURL())
	want := map[string][2]string{"empty": {"error", "Empty response"}, "micro-error": {"500", "boom"}}
	for _, subj := range subjects {
		check := func(op string, err error) {
			t.Helper()
			if subj == "not-json" {
				if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not JSON") {
					t.Errorf("%s to a responder that answered %q at once: %v; want the call ended at once with an error", op, "pong", err)
				}
				return
			}
			var re *rpc.Error
			if !errors.As(err, &re) {
				t.Errorf("%s %s: a reply with an empty body: %v; want an *rpc.Error at once, as NestJS's ClientNats", op, subj, err)
				return
			}
			if w := want[subj]; re.Status != w[0] || re.Message != w[1] {
				t.Errorf("%s %s: status %q, message %q; want %q, %q", op, subj, re.Status, re.Message, w[0], w[1])
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		check("Send", c.Send(ctx, subj, 1, nil))
		var last error
		for _, err := range c.Stream(ctx, subj, 1) {
			last = err
		}
		check("Stream", last)
		cancel()
	}
}
