package rpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// An event held at MaxHandlers (its hand-off deferred: it keeps its
// connection's reader) when a graceful Shutdown begins: it runs to its end
// with its context alive, the request read after it is served once a slot
// frees, and every reply reaches its peer before the connections close.
func TestEventAtHandlerCapDuringGracefulShutdown(t *testing.T) {
	holdIn, holdOut := make(chan struct{}), make(chan struct{})
	evIn, evOut := make(chan struct{}), make(chan struct{})
	evErr := make(chan error, 1)
	srv, stop := startServer(t, rpc.Config{MaxHandlers: 1}, func(s *rpc.Server) {
		s.Handle("hold", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
			close(holdIn)
			<-holdOut
			return w.Send("held")
		}))
		s.Handle("ev", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
			close(evIn)
			<-evOut
			evErr <- ctx.Err()
			return nil
		}))
		s.Handle("ping", constant("pong"))
	})
	defer stop()
	a := dial(t, srv)
	defer a.close()
	a.write(reqFrame(`"hold"`, "null", `"h"`))
	<-holdIn
	waitMetric(t, srv, "handed off running", 1, func(m rpc.Metrics) int { return int(m.Limits.HandedOffRunning) })

	b := dial(t, srv)
	defer b.close()
	b.write(reqFrame(`"ev"`, "null", "") + reqFrame(`"ping"`, "null", `"p"`))
	<-evIn
	waitMetric(t, srv, "deferred hand-offs", true, func(m rpc.Metrics) bool { return m.Limits.HandoffsDeferred > 0 })

	shut := make(chan error, 1)
	shutdownBegun(srv, shut)
	close(holdOut)
	a.expectFrame(partReply(`"held"`, `"h"`))
	a.expectFrame(frame(`{"isDisposed":true,"id":"h"}`))
	a.expectClosed()
	a.close()
	// The slot is free: the event is handed off and the ping served.
	b.expectFrame(valueReply(`"pong"`, `"p"`))
	close(evOut)
	if err := <-evErr; err != nil {
		t.Errorf("the event's context ended (%v) during a graceful Shutdown", err)
	}
	b.expectClosed()
	b.close()
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return")
	}
}
