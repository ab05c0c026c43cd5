package otelrpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/internal/spantest"
	"github.com/msgpattern/msgpattern/otelrpc"
)

// TestRemoteErrorWithInvalidUTF8KeepsSpansExportable: over NATS, a reply
// is not sanitized as the TCP client sanitizes its frames, and a remote
// error whose status or message is not a JSON string is kept as raw JSON
// text. A responder that answers with invalid UTF-8 there puts it in the
// client span's rpc.response.status_code, status description and
// exception.message. OTLP (protobuf) refuses invalid UTF-8 in strings: the
// exporter fails the whole batch, the other requests' spans with it.
func TestRemoteErrorWithInvalidUTF8KeepsSpansExportable(t *testing.T) {
	ns := natstest.Run(t, nil)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// A NestJS-like responder on "p" whose error object carries invalid UTF-8.
	sub, err := nc.Subscribe("p", func(m *nats.Msg) {
		var req struct {
			ID json.RawMessage `json:"id"`
		}
		_ = json.Unmarshal(m.Data, &req)
		reply := []byte(`{"err":{"status":{"s":"bad` + "\xff" + `"},"message":{"m":"x` + "\xfe" + `"}},"isDisposed":true,"id":` + string(req.ID) + `}`)
		_ = m.Respond(reply)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	tp, exp := spantest.NewProvider(t)
	c := otelrpc.WrapCaller(natstest.Dial(t, ns.ClientURL()), otelrpc.WithTracerProvider(tp))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = c.Send(ctx, "p", nil, nil)
	if err == nil {
		t.Fatal("Send: no error")
	}
	t.Logf("Send: %q", err)
	s := find(t, spantest.Wait(t, exp, 1), "p", trace.SpanKindClient)

	check := func(what, v string) {
		if !utf8.ValidString(v) {
			t.Errorf("client span: %s is not valid UTF-8: %q", what, v)
		}
	}
	check("status description", s.Status.Description)
	for _, kv := range s.Attributes {
		check("attribute "+string(kv.Key), kv.Value.String())
	}
	for _, ev := range s.Events {
		for _, kv := range ev.Attributes {
			check("event attribute "+string(kv.Key), kv.Value.String())
		}
	}

	// What it costs: an OTLP exporter cannot send the batch.
	exportOverOTLP(t, ctx, s)
}
