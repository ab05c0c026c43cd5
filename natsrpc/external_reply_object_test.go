package natsrpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
)

// TestClientExternalRepliesAsNestJS: natsrpc/doc.go, as NestJS's
// ClientNats (IncomingResponseDeserializer.isExternal): a reply with none
// of "err", "response", "isDisposed" is the call's whole and last value;
// one with any of them is a reply packet.
//
//   - {} and {"status":"ok"} (a plain nats.go responder) have none of them,
//     but every member they have is one a reply packet may carry, so
//     rpc.ParseReplyPacket takes them as a non-final reply packet and the
//     call waits out its deadline.
//   - {"isDisposed":false,"trace":"t"} has isDisposed, so it is a reply
//     packet (a non-final one) to NestJS; externalReply only looks at
//     isDisposed being true, takes it as external, and ends the call with
//     the whole packet as its value, before the real last reply (5).
func TestClientExternalRepliesAsNestJS(t *testing.T) {
	ns := natstest.Run(t, nil)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := natstest.Dial(t, ns.ClientURL())
	for _, tc := range []struct {
		subject string
		replies []string
		want    string
	}{
		{"ext-empty", []string{`{}`}, `{}`},
		{"ext-status", []string{`{"status":"ok"}`}, `{"status":"ok"}`},
		{"ext-notdisposed", []string{`{"isDisposed":false,"trace":"t"}`, `{"response":5,"isDisposed":true}`}, `5`},
	} {
		replies := tc.replies
		sub, err := nc.Subscribe(tc.subject, func(m *nats.Msg) {
			for _, r := range replies {
				m.Respond([]byte(r))
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		var got json.RawMessage
		err = c.Send(ctx, tc.subject, 1, &got)
		cancel()
		if err != nil || string(got) != tc.want {
			t.Errorf("replies %s from a plain responder: got %s, %v; want %s, nil", tc.replies, got, err, tc.want)
		}
	}
}
