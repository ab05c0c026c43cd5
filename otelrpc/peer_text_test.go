package otelrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/msgpattern/msgpattern/internal/spantest"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestSpanErrorTextOfPeerInputBounded: an error's text may quote what the
// peer sent — encoding/json's "cannot unmarshal number <the whole number>
// into Go value of type int", or a handler's own error — and a span keeps
// it twice (status description, exception message) in the SDK's batch
// queue long after the frame's MemoryBudget charge was given back. Both
// the decode error (rpc) and the span's text (otelrpc) are cut.
func TestSpanErrorTextOfPeerInputBounded(t *testing.T) {
	for _, tt := range []struct{ name, pattern string }{
		{"decode error", "typed"}, // rpc.Typed over []int: a 1 MB integer does not fit
		{"handler error", "echoerr"},
	} {
		t.Run(tt.name, func(t *testing.T) { checkSpanErrorTextBounded(t, tt.pattern) })
	}
}

func checkSpanErrorTextBounded(t *testing.T, pattern string) {
	tp, exp := spantest.NewProvider(t)
	srv, _ := newTracedServer(t, tp, nil)
	srv.Handle("echoerr", rpc.Func(func(data json.RawMessage) (any, error) {
		return nil, errors.New("cannot use " + string(data))
	}))
	c := startTCP(t, srv)

	big := json.RawMessage("[1" + strings.Repeat("0", 1<<20) + "]")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got int
	err := c.Send(ctx, pattern, big, &got)
	if err == nil {
		t.Fatal("no error")
	}
	t.Logf("caller's error: %d bytes", len(err.Error()))
	spans := spantest.Wait(t, exp, 1)
	s := find(t, spans, pattern, trace.SpanKindServer)
	held := len(s.Status.Description)
	for _, e := range s.Events {
		for _, kv := range e.Attributes {
			held += len(kv.Value.String())
		}
	}
	for _, kv := range s.Attributes {
		held += len(kv.Value.String())
	}
	t.Logf("frame %d bytes; span holds %d bytes of text (status %d)", len(big), held, len(s.Status.Description))
	if held > 4<<10 {
		t.Errorf("one request of %d KiB made its span hold %d KiB of peer-chosen text (status description %d KiB): the decode error's text is put in the span uncut",
			len(big)>>10, held>>10, len(s.Status.Description)>>10)
	}
}
