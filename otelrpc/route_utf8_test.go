package otelrpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/spantest"
	"github.com/msgpattern/msgpattern/otelrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestRouteNotUTF8KeepsSpansExportable: rpc takes any bytes as a pattern
// key (prommetrics labels such a key quoted, so that a scrape does not
// fail). Under WrapCaller (and Middleware) the key is the span's name and
// rpc.method: OTLP (protobuf) refuses a string that is not UTF-8, and the
// exporter fails the whole batch, every other call's span with it — what
// errortext.go's clipText guards against for error text.
func TestRouteNotUTF8KeepsSpansExportable(t *testing.T) {
	tp, exp := spantest.NewProvider(t)
	srv := tracedBareServer(t, tp)
	const key = "caf\xe9"
	srv.Handle(key, rpc.Func(func(json.RawMessage) (any, error) { return "ok", nil }))
	c := otelrpc.WrapCaller(startTCP(t, srv), otelrpc.WithTracerProvider(tp))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The TCP client sends the key as Node.js would read it (U+FFFD for
	// the invalid byte): the call finds no handler. Its span is named after
	// the key as given.
	_ = c.Send(ctx, key, nil, nil)
	// A transport that routes by its own key (NATS by subject, which may
	// hold any bytes) reaches the handler under it.
	if err := srv.Dispatch(ctx, rpc.Message{Packet: []byte(`{"data":1,"id":"1"}`), Route: key,
		Peer: srv.NewPeer("nats", nil)}, discardReplies{}); err != nil {
		t.Fatalf("precondition: Dispatch: %v", err)
	}
	spans := spantest.Wait(t, exp, 2)

	exportOverOTLP(t, ctx, spans...)
}

type discardReplies struct{}

func (discardReplies) WriteReply([]byte, bool) error { return nil }
