package rpc_test

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestLineFramingLongLinesHeapBounded: line-framed peers (first byte
// '{') each send an endless line; MemoryBudget is its default, derived
// from GOMEMLIMIT (128 MiB: budget 64 MiB). The process heap must stay near
// the budget, and an honest NestJS-framed client must be served meanwhile.
// Not parallel: it sets the process's memory limit and reads its heap.
func TestLineFramingLongLinesHeapBounded(t *testing.T) {
	old := debug.SetMemoryLimit(128 << 20)
	defer debug.SetMemoryLimit(old)
	s := serverWithBudget(t, 0, func(s *rpc.Server) { registerExposure(s, nil) })
	budget := s.Config().MemoryBudget
	if budget != 64<<20 {
		t.Fatalf("default budget under GOMEMLIMIT 128 MiB = %d", budget)
	}
	runtime.GC()
	base := takeSample(s)
	chunk := []byte(strings.Repeat("a", 256<<10))
	var stops []func() int
	for range 8 {
		nc := rawDial(t, s, 0)
		nc.Write([]byte(`{"pattern":"len","data":"`))
		stops = append(stops, pump(nc, chunk, 96)) // 24 MiB each, no newline
	}
	var peakHeap uint64
	var peakHeld int64
	end := time.Now().Add(3 * time.Second)
	for time.Now().Before(end) {
		now := takeSample(s)
		peakHeap = max(peakHeap, now.heapInuse)
		peakHeld = max(peakHeld, now.held)
		time.Sleep(20 * time.Millisecond)
	}
	d := honestProbe(t, s, "during", honestWithin)
	written := 0
	for _, stop := range stops {
		written += stop()
	}
	t.Logf("attackers wrote %d MiB; peak held %.1f MiB of %.0f; heap in use %.1f → peak %.1f MiB; honest call %v; %+v",
		written/4, float64(peakHeld)/(1<<20), float64(budget)/(1<<20), mib(base.heapInuse), mib(peakHeap), d, limits(s))
	if peakHeld > budget {
		t.Errorf("held %d > budget %d", peakHeld, budget)
	}
	if grew := int64(peakHeap) - int64(base.heapInuse); grew > 2*budget+16<<20 {
		t.Errorf("heap grew by %.1f MiB under a %.0f MiB budget", float64(grew)/(1<<20), float64(budget)/(1<<20))
	}
}
