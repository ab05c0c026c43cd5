package main

import (
	"context"
	"strings"
	"testing"
	"time"

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
	// The server counts a request just after its reply has gone out: the
	// last "sum" (and the first reading's own request) may not be counted
	// yet when its reply arrives. Wait for the server's own count before
	// taking the second reading, so that the reading is checked, not the race.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if m := srv.GetMetrics(); m.Requests+m.Events >= m0.Handled+calls+1 || time.Now().After(deadline) {
			break
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

// TestProcessingColumnAtOneByOneOnly: the results tables show the server's
// processing time per request for a lone request (1×1), where it is the
// server's own part of the round trip, and not at 16×64, where it is mostly
// the wait behind the requests read with it (4 KiB read 1.3 ms).
func TestProcessingColumnAtOneByOneOnly(t *testing.T) {
	mk := func(target string, withStats bool) *cell {
		s := sample{rps: 10000, requests: 50000, elapsed: 5 * time.Second, p50: 50 * time.Microsecond, p99: 90 * time.Microsecond}
		if withStats {
			s.allocsKnown, s.handled, s.processing = true, 50000, 50000*2300*time.Nanosecond
		}
		return &cell{target: target, samples: []sample{s}}
	}
	cells := func() []*cell { return []*cell{mk(tCeiling, false), mk(tMsgpattern, true)} }
	r := &report{opts: &options{}, shapes: []shapeResult{
		{shape: shape{16, 64, smallPayload}, cells: cells()},
		{shape: shape{1, 1, smallPayload}, cells: cells()},
	}}
	md := r.markdown()
	many := md[strings.Index(md, "### 16 connections × 64 in flight"):strings.Index(md, "### 1 connection × 1 in flight")]
	lone := md[strings.Index(md, "### 1 connection × 1 in flight"):]
	lone = lone[:strings.Index(lone, "\n## ")]
	if strings.Contains(many, "processing") || strings.Contains(many, "2.30") {
		t.Errorf("the 16×64 table shows processing time:\n%s", many)
	}
	if !strings.Contains(lone, "| server processing µs/req |") || !strings.Contains(lone, "| 2.30 |") {
		t.Errorf("the 1×1 table lacks msgpattern's processing time (2.30 µs):\n%s", lone)
	}
	for _, table := range []string{many, lone} {
		for _, line := range strings.Split(table, "\n") {
			if strings.HasPrefix(line, "|") && strings.Count(line, "|") != strings.Count(strings.Split(table, "\n")[2], "|") {
				t.Errorf("a row with a different column count from its header:\n%s", line)
			}
		}
	}
}
