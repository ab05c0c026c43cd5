package rpc_test

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestMaxInFlightHoldsDuringGracefulShutdown: MaxInFlight caps the
// handlers running at once on one connection. Requests already buffered
// when a graceful Shutdown begins are served, but one slot at a time, as
// before: they used to start all at once, past the cap.
func TestMaxInFlightHoldsDuringGracefulShutdown(t *testing.T) {
	var running, peak atomic.Int32
	release := make(chan struct{})
	srv, _ := startServer(t, rpc.Config{MaxInFlight: 1, Timeout: time.Minute}, func(s *rpc.Server) {
		registerProbe(s)
		s.Handle("hold", rpc.Func(func(json.RawMessage) (any, error) {
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			<-release
			running.Add(-1)
			return "ok", nil
		}))
	})
	c := dial(t, srv)
	c.write(reqFrame(`"hold"`, `null`, `1`) + reqFrame(`"hold"`, `null`, `2`) + reqFrame(`"hold"`, `null`, `3`))
	waitMetric(t, srv, "in_flight", int64(1), func(m rpc.Metrics) int64 { return m.InFlight })

	shut := make(chan error, 1)
	shutdownBegun(srv, shut)
	// A second handler would start now (bounded wait: none should).
	deadline := time.Now().Add(500 * time.Millisecond)
	for running.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	for range 3 {
		if f := c.readFrame(); f == "" {
			t.Fatal("no reply")
		}
	}
	c.close() // ends the server's lingering close at once
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if p := peak.Load(); p > 1 {
		t.Errorf("MaxInFlight 1, but %d handlers ran at once on the connection during Shutdown", p)
	}
}
