package natsrpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
)

// TestClientTakesIDWithUnknownMemberAsWholeValue: README.md, the
// client table ("a reply frame with an unknown id, or a foreign frame"):
// "an object carrying a pending call's id is that call's: ... an object
// with none of those [err, response, isDisposed] but some member other
// than id and status is the call's whole, last value (as NestJS 10 and 11
// take both, and as natsrpc.Client does)". NestJS's ClientNats does the
// same (IncomingResponseDeserializer: external, response = the object).
// A responder that echoes the call's id beside its own members, e.g.
// {"id":<the request's id>,"sum":3}, leaves natsrpc.Client's call waiting.
func TestClientTakesIDWithUnknownMemberAsWholeValue(t *testing.T) {
	ns := natstest.Run(t, nil)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := natstest.Dial(t, ns.ClientURL())
	sub, err := nc.Subscribe("withid", func(m *nats.Msg) {
		var req struct {
			ID json.RawMessage `json:"id"`
		}
		if json.Unmarshal(m.Data, &req) != nil || req.ID == nil {
			return
		}
		m.Respond([]byte(`{"id":` + string(req.ID) + `,"sum":3}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got map[string]any
	err = c.Send(ctx, "withid", 1, &got)
	if err != nil || got["sum"] != float64(3) {
		t.Fatalf("reply {\"id\":<the call's id>,\"sum\":3}: got %v, %v; want the whole object as the call's value", got, err)
	}
}
