package natsrpc_test

import (
	"context"
	"encoding/json"
	"strings"
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
//   - {"id":<the call's id>,"sum":3} has the call's id beside a member of
//     its own: the call's whole value, as README's client table says (it
//     was dropped as not a reply packet, and the call waited).
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
		{"ext-withid", []string{`{"id":ID,"sum":3}`}, `{"id":ID,"sum":3}`},
	} {
		replies := tc.replies
		ids := make(chan string, 1) // ID in replies and want: the request's id
		sub, err := nc.Subscribe(tc.subject, func(m *nats.Msg) {
			var req struct {
				ID json.RawMessage `json:"id"`
			}
			json.Unmarshal(m.Data, &req)
			ids <- string(req.ID)
			for _, r := range replies {
				m.Respond([]byte(strings.ReplaceAll(r, "ID", string(req.ID))))
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
		want := tc.want
		select {
		case id := <-ids:
			want = strings.ReplaceAll(want, "ID", id)
		default:
		}
		if err != nil || string(got) != want {
			t.Errorf("replies %s from a plain responder: got %s, %v; want %s, nil", tc.replies, got, err, want)
		}
	}
}
