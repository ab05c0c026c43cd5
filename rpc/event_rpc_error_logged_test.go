package rpc_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// lockedBuffer is a log destination safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestEventHandlerRPCErrorLogged: rpc.Event's godoc says "A returned error
// is logged and counted", and an event has nobody to answer. An event
// handler that returned an *rpc.Error (say from validation code shared
// with its request handlers) was only counted (errors_by_kind.rpc): the
// reply's choice, which logs every other handler error, treats an *Error
// as the caller's answer and logs nothing, so its text was lost.
func TestEventHandlerRPCErrorLogged(t *testing.T) {
	var logs lockedBuffer
	s := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, RetryAttempts: -1},
		slog.New(slog.NewTextHandler(&logs, nil)))
	s.HandleEvent("order.placed", rpc.Event(func(_ context.Context, n int) error {
		return rpc.NewError("order 7 rejected")
	}))
	s.HandleEvent("order.plain", rpc.Event(func(_ context.Context, n int) error {
		return errors.ErrUnsupported // a plain error: logged
	}))
	serveTCP(t, s)
	c := dial(t, s)
	c.write(reqFrame(`"order.plain"`, `7`, ``))
	c.write(reqFrame(`"order.placed"`, `7`, ``))
	waitMetric(t, s, "errors_by_kind.rpc", uint64(1), func(m rpc.Metrics) uint64 { return m.ErrorByKind.RPC })
	waitMetric(t, s, "errors_by_kind.handler", uint64(1), func(m rpc.Metrics) uint64 { return m.ErrorByKind.Handler })
	out := logs.String()
	if !strings.Contains(out, errors.ErrUnsupported.Error()) {
		t.Fatalf("the plain error is not logged either; log:\n%s", out)
	}
	if !strings.Contains(out, "order 7 rejected") {
		t.Errorf("an event handler's *rpc.Error was counted but not logged; log:\n%s", out)
	}
}
