package main

// Heap allocations per request on the msgpattern server. The msgpattern
// targets (bench server msgpattern, msgpattern-raw) also answer the pattern
// "bench.memstats" with their runtime.MemStats counters; the suite asks for
// them over a connection of its own just before and just after each
// measured repetition, and divides the deltas of Mallocs (heap objects
// allocated: what testing.AllocsPerRun counts) and TotalAlloc (bytes) by the
// repetition's requests. So the figures are everything the server process
// allocated while serving that load — reading, routing, decoding, the
// handler, encoding, writing, the load's connection set-up (amortised over
// the run) and the runtime's own — per request, under the shape's real
// concurrency. The two control requests add a few dozen allocations to a
// run of tens of thousands of requests.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
	"github.com/msgpattern/msgpattern/wire"
)

const memStatsPattern = "bench.memstats"

// memStats are the counters "bench.memstats" answers.
type memStats struct {
	Mallocs    uint64 `json:"mallocs"`
	TotalAlloc uint64 `json:"totalAlloc"`
	// Handled and ProcessingMs are the server's own metrics (GetMetrics):
	// messages handled, and their total time from the read that completed
	// the frame to the handler's result (parsing, routing, decoding, the
	// handler; not the reply's encoding, nor the time in the kernel).
	Handled      uint64  `json:"handled"`
	ProcessingMs float64 `json:"processingMs"`
}

// memStatsHandler answers the server process's allocation counters and
// srv's processing time.
func memStatsHandler(srv *rpc.Server) rpc.Handler {
	return rpc.Typed(func(context.Context, struct{}) (memStats, error) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		m := srv.GetMetrics()
		return memStats{Mallocs: ms.Mallocs, TotalAlloc: ms.TotalAlloc,
			Handled: m.Requests + m.Events, ProcessingMs: m.ProcessingTimeMs}, nil
	})
}

// memStats asks the target for its allocation counters, over a connection
// kept open for the purpose (so that no connection set-up falls between two
// readings but the load's own).
func (c *child) memStats() (memStats, error) {
	if c.ctl == nil {
		nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return memStats{}, err
		}
		c.ctl = nc
	}
	c.ctl.SetDeadline(time.Now().Add(10 * time.Second))
	c.ctlID++
	id := fmt.Append(nil, c.ctlID)
	frame := wire.AppendRequest(nil, wire.NestJS, []byte(`"`+memStatsPattern+`"`), []byte("null"), nil, id)
	if _, err := c.ctl.Write(frame); err != nil {
		c.closeCtl()
		return memStats{}, err
	}
	body, err := readFrame(c.ctl, make([]byte, 0, 256))
	if err != nil {
		c.closeCtl()
		return memStats{}, err
	}
	rep, ok, err := wire.ParseReply(body, 0)
	if err != nil || !ok || rep.HasError() || string(rep.ID) != string(id) {
		c.closeCtl()
		return memStats{}, fmt.Errorf("%s: bad reply %q", memStatsPattern, body)
	}
	var ms memStats
	if err := json.Unmarshal(rep.Response, &ms); err != nil {
		return memStats{}, fmt.Errorf("%s: %v", memStatsPattern, err)
	}
	return ms, nil
}

func (c *child) closeCtl() {
	if c.ctl != nil {
		c.ctl.Close()
		c.ctl = nil
	}
}
