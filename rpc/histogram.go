package rpc

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// latencyBuckets is the number of histogram buckets: bucket i counts
// durations of more than 2^(i-1) and at most 2^i microseconds (Prometheus'
// le); the last one, whose bound is 2^27 µs ≈ 134 s, also counts everything
// longer.
const latencyBuckets = 28

// histogram counts latencies in power-of-two microsecond buckets. Observing
// is one atomic add (and, for a new shortest or longest duration, a
// compare-and-swap); percentiles are estimated at snapshot time, within
// the shortest and longest durations observed.
type histogram struct {
	counts [latencyBuckets]atomic.Uint64
	// shortest is the shortest duration observed plus one (0: none yet);
	// longest the longest.
	shortest, longest atomic.Int64
}

func (h *histogram) observe(d time.Duration) {
	d = max(d, 0)
	for {
		m := h.shortest.Load()
		if m != 0 && int64(d)+1 >= m || h.shortest.CompareAndSwap(m, int64(d)+1) {
			break
		}
	}
	for {
		m := h.longest.Load()
		if int64(d) <= m || h.longest.CompareAndSwap(m, int64(d)) {
			break
		}
	}
	i := 0 // at most 1 µs
	if d > time.Microsecond {
		// (2^(i-1), 2^i] µs: a duration on a bound counts in its bucket.
		i = bits.Len64((uint64(d) - 1) / uint64(time.Microsecond))
	}
	if i >= latencyBuckets {
		i = latencyBuckets - 1
	}
	h.counts[i].Add(1)
}

// bucketBound is the upper bound of bucket i.
func bucketBound(i int) time.Duration {
	return time.Duration(uint64(1)<<uint(i)) * time.Microsecond
}

// LatencyBucket is one histogram bucket of a snapshot: Count durations were
// at most LeMs milliseconds (and more than the previous bucket's bound),
// except in the last possible bucket (LeMs ≈ 134 s), which also holds
// everything longer.
type LatencyBucket struct {
	LeMs  float64 `json:"le_ms"`
	Count uint64  `json:"count"`
}

// snapshot returns the non-empty prefix of buckets and the estimated
// percentiles p50, p90, p99 in milliseconds (0 when empty). The estimates,
// which interpolate inside power-of-two buckets, lie between the shortest
// and the longest duration observed.
func (h *histogram) snapshot() (buckets []LatencyBucket, p50, p90, p99 float64) {
	var counts [latencyBuckets]uint64
	var total uint64
	last := -1
	for i := range counts {
		counts[i] = h.counts[i].Load()
		total += counts[i]
		if counts[i] > 0 {
			last = i
		}
	}
	if total == 0 {
		return nil, 0, 0, 0
	}
	// Read after the counts: observe updates them before it counts, so
	// every duration counted is within them.
	minNanos, maxNanos := h.shortest.Load()-1, h.longest.Load()
	for i := 0; i <= last; i++ {
		buckets = append(buckets, LatencyBucket{LeMs: ms(int64(bucketBound(i))), Count: counts[i]})
	}
	q := func(p float64) float64 {
		rank := p * float64(total)
		var seen float64
		for i, c := range counts {
			if c == 0 {
				continue
			}
			if seen+float64(c) >= rank {
				// Interpolate inside the bucket.
				lo := 0.0
				if i > 0 {
					lo = ms(int64(bucketBound(i - 1)))
				}
				hi := ms(int64(bucketBound(i)))
				if maxNanos > 0 {
					hi = min(hi, ms(maxNanos))
				}
				if minNanos >= 0 {
					lo = max(lo, ms(minNanos))
				}
				lo = min(lo, hi)
				return lo + (hi-lo)*(rank-seen)/float64(c)
			}
			seen += float64(c)
		}
		if maxNanos > 0 {
			return min(ms(int64(bucketBound(last))), ms(maxNanos))
		}
		return ms(int64(bucketBound(last)))
	}
	return buckets, q(0.50), q(0.90), q(0.99)
}
