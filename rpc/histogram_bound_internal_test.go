package rpc

import (
	"testing"
	"time"
)

// TestHistogramBucketBoundInclusive: LatencyBucket documents that
// its Count durations "were at most LeMs milliseconds (and more than the
// previous bucket's bound)" — Prometheus' le semantics, which prommetrics
// exports them as. observe put a duration equal to a bound, 2^i µs, in
// the next bucket up (bits.Len64 of 2^i is i+1): a 1.024 ms request was
// counted under le 2.048 ms, not under le 1.024 ms.
func TestHistogramBucketBoundInclusive(t *testing.T) {
	for _, d := range []time.Duration{time.Microsecond, 2 * time.Microsecond, 1024 * time.Microsecond} {
		var h histogram
		h.observe(d)
		buckets, _, _, _ := h.snapshot()
		last := buckets[len(buckets)-1]
		if last.LeMs < ms(int64(d)) {
			t.Fatalf("%v counted under le %v ms", d, last.LeMs)
		}
		if len(buckets) > 1 && buckets[len(buckets)-2].LeMs >= ms(int64(d)) {
			t.Errorf("a duration of %v is counted in the bucket le %v ms, not in the one le %v ms it is at most", d, last.LeMs, buckets[len(buckets)-2].LeMs)
		}
	}
}

// TestHistogramBuckets pins the bucket of durations around the bounds.
func TestHistogramBuckets(t *testing.T) {
	for _, tt := range []struct {
		d      time.Duration
		bucket int
	}{
		{0, 0}, {999, 0}, {time.Microsecond, 0}, {1001, 1}, {2 * time.Microsecond, 1}, {2001, 2},
		{4 * time.Microsecond, 2}, {4001, 3}, {1024 * time.Microsecond, 10}, {1024*time.Microsecond + 1, 11},
		{time.Hour, latencyBuckets - 1},
	} {
		var h histogram
		h.observe(tt.d)
		if h.counts[tt.bucket].Load() != 1 {
			t.Errorf("%v not counted in bucket %d (le %v)", tt.d, tt.bucket, bucketBound(tt.bucket))
		}
	}
}
