package otelrpc_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/baggage"

	"github.com/msgpattern/msgpattern/internal/spantest"
	"github.com/msgpattern/msgpattern/otelrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestFullBaggageKeepsTrace: rpc.MaxMetadataBytes promises "room for W3C
// trace context with a full baggage header (8 KiB by the W3C's own
// limit)". A caller whose context carries a valid baggage near that limit
// (OpenTelemetry accepts up to 8192 bytes) calls through WrapCaller: the
// server span must still be the child of the client span.
func TestFullBaggageKeepsTrace(t *testing.T) {
	tp, _ := spantest.NewProvider(t)
	var caller rpc.Caller
	srv, seen := newTracedServer(t, tp, func() rpc.Caller { return caller })
	caller = otelrpc.WrapCaller(startTCP(t, srv), otelrpc.WithTracerProvider(tp))

	var members []baggage.Member
	size := 0
	for i := 0; ; i++ {
		m, err := baggage.NewMember(fmt.Sprintf("k%02d", i), strings.Repeat("v", 190))
		if err != nil {
			t.Fatal(err)
		}
		if size+len(m.String())+1 > 8190 {
			break
		}
		size += len(m.String()) + 1
		members = append(members, m)
	}
	bag, err := baggage.New(members...)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(bag.String()); n > 8192 {
		t.Fatalf("baggage of %d bytes, over the W3C limit", n)
	}
	ctx := baggage.ContextWithBaggage(context.Background(), bag)
	ctx, root := tp.Tracer("test").Start(ctx, "root")
	var got string
	if err := caller.Send(ctx, "ok", nil, &got); err != nil {
		t.Fatal(err)
	}
	root.End()
	scs := seen.get("ok")
	if len(scs) != 1 {
		t.Fatalf("handler ran %d times", len(scs))
	}
	if scs[0].TraceID() != root.SpanContext().TraceID() {
		t.Errorf("baggage of %d bytes (under the 8192 of W3C): the server span is in trace %s, not the caller's %s: trace context lost",
			len(bag.String()), scs[0].TraceID(), root.SpanContext().TraceID())
	}
}
