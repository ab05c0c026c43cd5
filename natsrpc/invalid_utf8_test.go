package natsrpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/rpc"
)

// badText is a JSON string with invalid UTF-8: a lone 0xFF and a truncated
// 3-byte sequence. Node.js (NestJS's JSON codec over TextDecoder) reads it
// as "a\uFFFDb\uFFFDc": one U+FFFD per maximal invalid subpart, as the TCP
// transport and client do (wire.SanitizeUTF8, docs/SERVER.md "invalid
// UTF-8").
const badText = "\"a\xffb\xe2\x82c\""

const nodeText = "\"a\uFFFDb\uFFFDc\""

// TestClientSanitizesInvalidUTF8: a reply with invalid UTF-8 reaches the
// caller as a NestJS ClientProxy (and rpc.Client over TCP) would read it,
// whether taken raw, as a stream value, or decoded into a string.
func TestClientSanitizesInvalidUTF8(t *testing.T) {
	ns := natstest.Run(t, nil)
	responder := connect(t, ns.ClientURL())
	if _, err := responder.Subscribe("bad", func(m *nats.Msg) {
		m.Respond([]byte(`{"response":` + badText + `,"isDisposed":true,"id":` + requestID(m) + `}`))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := responder.Subscribe("bad-plain", func(m *nats.Msg) { m.Respond([]byte(badText)) }); err != nil {
		t.Fatal(err)
	}
	responder.Flush()
	c := natstest.Dial(t, ns.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, p := range []string{"bad", "bad-plain"} {
		var raw json.RawMessage
		if err := c.Send(ctx, p, nil, &raw); err != nil || string(raw) != nodeText {
			t.Errorf("%s into a json.RawMessage: %q, %v; want %q", p, raw, err, nodeText)
		}
		var s string
		if err := c.Send(ctx, p, nil, &s); err != nil || `"`+s+`"` != nodeText {
			t.Errorf("%s into a string: %q, %v; want %q", p, s, err, nodeText)
		}
		for v, err := range c.Stream(ctx, p, nil) {
			if err != nil || string(v) != nodeText {
				t.Errorf("%s streamed: %q, %v; want %q", p, v, err, nodeText)
			}
		}
	}
}

// TestServerSanitizesInvalidUTF8: a request with invalid UTF-8 is served
// as a NestJS NATS server (and this server over TCP) serves it: the
// handler sees the text Node.js decodes.
func TestServerSanitizesInvalidUTF8(t *testing.T) {
	ns := natstest.Run(t, nil)
	srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger())
	seen := make(chan string, 2)
	srv.Handle("echo", rpc.HandlerFunc(func(_ context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
		seen <- string(r.Data)
		return w.Send(json.RawMessage(r.Data))
	}))
	natstest.Serve(t, srv, ns.ClientURL())
	nc := connect(t, ns.ClientURL())
	body := `{"pattern":"echo","data":` + badText + `,"id":"1"}`
	if _, err := nc.Request("echo", []byte(body), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got != nodeText {
		t.Errorf("request %q: the handler saw %q; want %q", body, got, nodeText)
	}
}
