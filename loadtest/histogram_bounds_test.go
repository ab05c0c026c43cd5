package loadtest

import (
	"testing"
	"time"
)

// TestPercentileWithinBucketBounds: a percentile is reported as its
// bucket's upper bound, and BucketBounds gives the range it stands for,
// which holds the true latency and is within 0.8% of it. With 3% buckets
// a 1×1 median ratio of 1.198 (50.2 µs against 41.9 µs) read 1.22×:
// the goal of 1.2× could not be judged.
func TestPercentileWithinBucketBounds(t *testing.T) {
	for _, d := range []time.Duration{
		40 * time.Nanosecond, 41900 * time.Nanosecond, 50200 * time.Nanosecond,
		65535 * time.Nanosecond, 65536 * time.Nanosecond, 73 * time.Microsecond,
		28310 * time.Microsecond, 3 * time.Second,
	} {
		h := newHistogram()
		for range 1001 {
			h.observe(d)
		}
		for range 999 {
			h.observe(3 * d)
		}
		p50 := h.summary(0).P50
		lo, hi := BucketBounds(p50)
		if d < lo || d > hi || p50 != hi {
			t.Errorf("median %v reported as %v, bounds [%v, %v]: want the median within and the report at the upper bound", d, p50, lo, hi)
		}
		if float64(hi-lo) > float64(d)/128 {
			t.Errorf("median %v: bounds [%v, %v] are %.2f%% wide, want at most 0.8%%", d, lo, hi, 100*float64(hi-lo)/float64(d))
		}
	}
}
