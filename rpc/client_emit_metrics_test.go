package rpc_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientCountsFailedEmit: an Emit that fails here is counted as an
// Emit call (events) and a local error, as a Send that fails the same
// way is counted as a call and a local error.
func TestClientCountsFailedEmit(t *testing.T) {
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("ok", rpc.Func(func(json.RawMessage) (any, error) { return 1, nil }))
	})
	c := newTestClient(t, s.Addr().String())
	bad := make(chan int) // does not encode
	if err := c.Send(context.Background(), "ok", bad, nil); err == nil {
		t.Fatal("Send of a channel: no error")
	}
	m := c.Metrics()
	t.Logf("after Send: calls %d events %d local %d", m.Calls, m.Events, m.LocalErrors)
	if err := c.Emit(context.Background(), "ok", bad); err == nil {
		t.Fatal("Emit of a channel: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Emit(ctx, "ok", 1); err == nil {
		t.Fatal("Emit with an ended context: no error")
	}
	if err := c.Send(ctx, "ok", 1, nil); err == nil {
		t.Fatal("Send with an ended context: no error")
	}
	m2 := c.Metrics()
	t.Logf("after all: calls %d events %d local %d", m2.Calls, m2.Events, m2.LocalErrors)
	if m2.Events != 2 || m2.LocalErrors != 4 || m2.Calls != 2 {
		t.Errorf("calls %d events %d local_errors %d; want 2, 2, 4 (two failed Sends, two failed Emits)", m2.Calls, m2.Events, m2.LocalErrors)
	}
}
