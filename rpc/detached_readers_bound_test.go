package rpc_test

import (
	"encoding/json"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestDetachedConnectionsHoldNoReader: peers that each send one event to
// a slow event handler and close, with the defaults. Past the closing
// bound such a connection is detached (its slot and socket freed, its
// events run on); its reader used to stay, waiting for the events, so
// goroutines reached MaxHandlers more than the documented bound of one
// reader per connection (open or closing) + MaxHandlers. Once the events
// return, every detached connection is closed.
func TestDetachedConnectionsHoldNoReader(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		registerProbe(s)
		s.HandleEvent("slow-event", rpc.Func(func(json.RawMessage) (any, error) {
			<-release
			return nil, nil
		}))
	})
	base := runtime.NumGoroutine()
	ev := []byte(reqFrame(`"slow-event"`, `null`, ""))
	const peers = 4600 // more than MaxHandlers + the closing bound
	maxHandlers := int64(s.GetMetrics().Limits.MaxHandlers)
	start := time.Now()
	for i := range peers {
		nc := rawDial(t, s, 0)
		nc.Write(ev)
		// The event is handed off before the peer closes.
		for limits(s).HandedOffRunning < min(int64(i+1), maxHandlers) && time.Since(start) < 10*time.Second {
			time.Sleep(50 * time.Microsecond)
		}
		nc.Close()
	}
	time.Sleep(300 * time.Millisecond)
	m := s.GetMetrics()
	g := runtime.NumGoroutine() - base
	bound := int(m.ActiveConnections) + int(m.Limits.ClosingConnections) + int(maxHandlers)
	t.Logf("%d peers in %v: %d more goroutines; %d connections open, %d closing, %d handlers handed off",
		peers, time.Since(start), g, m.ActiveConnections, m.Limits.ClosingConnections, m.Limits.HandedOffRunning)
	if g > bound+50 {
		t.Errorf("%d more goroutines; want at most one reader per open or closing connection + MaxHandlers = %d", g, bound)
	}
	honestProbe(t, s, "with the events running", 2*time.Second)

	unblock()
	if !eventually(10*time.Second, func() bool {
		m := s.GetMetrics()
		return m.InFlight == 0 && m.Limits.HandedOffRunning == 0 && runtime.NumGoroutine() <= base+20
	}) {
		m := s.GetMetrics()
		t.Errorf("after the events returned: %d more goroutines, %d in flight, %d handed off",
			runtime.NumGoroutine()-base, m.InFlight, m.Limits.HandedOffRunning)
	}
	honestProbe(t, s, "after", 2*time.Second)
}
