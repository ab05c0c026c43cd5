package rpc_test

import (
	"context"
	"encoding/json"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestCloseStopsStartingBufferedAfterHalfClose: a connection paused at
// MaxInFlight whose peer half-closed serves its buffered requests one slot
// at a time (c.ended). Server.Close cancels every connection; no handler
// may start after Close returned. The ended reader's waitForSlot ignores
// c.ctx, so each slot a running handler frees starts another buffered
// request after Close.
func TestCloseStopsStartingBufferedAfterHalfClose(t *testing.T) {
	release := make(chan struct{})
	told := make(chan struct{}, 1)
	var started atomic.Int32
	s, _ := startServer(t, rpc.Config{MaxInFlight: 1, Timeout: time.Minute}, func(s *rpc.Server) {
		s.Handle("hold", rpc.Typed(func(ctx context.Context, _ json.RawMessage) (string, error) {
			<-ctx.Done()
			told <- struct{}{}
			<-release // ignores its context, as the doc allows
			return "held", nil
		}))
		s.Handle("work", rpc.Func(func(json.RawMessage) (any, error) {
			started.Add(1)
			return "done", nil
		}))
	})
	c := dial(t, s)
	c.write(reqFrame(`"hold"`, `null`, `1`) + reqFrame(`"work"`, `null`, `2`) +
		reqFrame(`"work"`, `null`, `3`) + reqFrame(`"work"`, `null`, `4`))
	waitMetric(t, s, "in_flight", 1, func(m rpc.Metrics) int64 { return m.InFlight })
	if err := c.nc.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	<-told // the paused reader read the end of the stream (c.ended)
	s.Close()
	close(release)
	// Bounded wait for a state that must not come.
	if eventually(time.Second, func() bool { return started.Load() > 0 }) {
		t.Fatalf("%d handlers started after Server.Close returned", started.Load())
	}
}
