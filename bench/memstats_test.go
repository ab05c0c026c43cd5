package main

import (
	"context"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestMemStatsCarryProcessing: "bench.memstats" answers the server's own
// message count and processing time, whose deltas around a run give the
// report's processing time per request.
func TestMemStatsCarryProcessing(t *testing.T) {
	srv := newMsgpatternServer("127.0.0.1:0", nil)
	srv.Handle("sum", sumHandler())
	srv.Handle(memStatsPattern, memStatsHandler(srv))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := &child{addr: srv.Addr().String()}
	defer c.closeCtl()
	m0, err := c.memStats()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := rpc.NewClient(c.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const calls = 100
	for range calls {
		var out float64
		if err := cl.Send(context.Background(), "sum", []float64{1, 2}, &out); err != nil || out != 3 {
			t.Fatalf("sum: %v, %v", out, err)
		}
	}
	m1, err := c.memStats()
	if err != nil {
		t.Fatal(err)
	}
	// The first reading's own request is counted once it has returned.
	if n := m1.Handled - m0.Handled; n != calls+1 {
		t.Errorf("handled between the readings: %d, want %d", n, calls+1)
	}
	if m1.ProcessingMs <= m0.ProcessingMs {
		t.Errorf("processing time did not grow: %v ms then %v ms", m0.ProcessingMs, m1.ProcessingMs)
	}
	s := sample{requests: calls, handled: m1.Handled - m0.Handled}
	s.processing = 5 * 101 * 1000 // 5 µs a message, in ns
	if got := s.pathPerReq(); got != 5 {
		t.Errorf("pathPerReq = %v µs, want 5", got)
	}
}
