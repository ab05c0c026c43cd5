package loadtest

import (
	"slices"
	"testing"
	"time"
)

// TestHistogramBarEdges: a bar holds the latencies of at most its Upper
// and more than the previous bar's (Bucket's doc), so a latency exactly on
// a bar's Upper is in that bar, not the next. Latencies under 32 ns have
// exact buckets.
func TestHistogramBarEdges(t *testing.T) {
	for _, tc := range []struct {
		latencies []time.Duration
		bars      int
		want      []Bucket
	}{
		{[]time.Duration{0, 10, 20}, 2, []Bucket{{Upper: 10, Count: 2}, {Upper: 20, Count: 1}}},
		{[]time.Duration{0, 10, 20, 30}, 3, []Bucket{{Upper: 10, Count: 2}, {Upper: 20, Count: 1}, {Upper: 30, Count: 1}}},
		{[]time.Duration{5, 6, 15, 25}, 2, []Bucket{{Upper: 15, Count: 3}, {Upper: 25, Count: 1}}},
		{[]time.Duration{1, 2, 3, 4}, 3, []Bucket{{Upper: 2, Count: 2}, {Upper: 3, Count: 1}, {Upper: 4, Count: 1}}},
	} {
		h := newHistogram()
		for _, d := range tc.latencies {
			h.observe(d)
		}
		if got := h.summary(tc.bars).Histogram; !slices.Equal(got, tc.want) {
			t.Errorf("latencies %v in %d bars: %+v, want %+v", tc.latencies, tc.bars, got, tc.want)
		}
	}
}
