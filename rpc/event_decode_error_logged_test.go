package rpc_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestEventDecodeErrorLogged: rpc.Event's godoc says "A returned error is
// logged and counted", and serve logs an event's *rpc.Error because "an
// event's reaches nobody: logged, as an event handler's every other error
// is". An event whose data does not decode into T (the adapter's own
// error, which a request's caller gets as its reply) reaches nobody
// either, yet was only counted (errors_by_kind.decode): the event and the
// reason it was dropped were lost without a trace in the log.
func TestEventDecodeErrorLogged(t *testing.T) {
	var logs lockedBuffer
	s := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, RetryAttempts: -1},
		slog.New(slog.NewTextHandler(&logs, nil)))
	s.HandleEvent("order.placed", rpc.Event(func(_ context.Context, n int) error { return nil }))
	serveTCP(t, s)
	c := dial(t, s)
	c.write(reqFrame(`"order.placed"`, `"seven"`, ``))
	waitMetric(t, s, "errors_by_kind.decode", uint64(1), func(m rpc.Metrics) uint64 { return m.ErrorByKind.Decode })
	waitMetric(t, s, "events", uint64(1), func(m rpc.Metrics) uint64 { return m.Events })
	out := logs.String()
	if !strings.Contains(out, "order.placed") || !strings.Contains(out, "invalid data") {
		t.Errorf("an event whose data did not decode was counted but not logged; log:\n%s", out)
	}
}
