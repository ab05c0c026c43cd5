package loadtest

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Latencies are counted in log-linear buckets: each power of two of
// nanoseconds is split into subBuckets, so every bucket is within about
// 0.8% of the latencies it holds, from 1 ns to about 19.5 hours. (With 32
// sub-buckets, 3%, two latencies 1.2× apart could not be told from 1.25×.)
const (
	subBits    = 7
	subBuckets = 1 << subBits
	powers     = 40
	numBuckets = powers * subBuckets
)

// histogram counts latencies; observe is one atomic add, so a progress
// report can read it while the run goes on.
type histogram struct {
	counts [numBuckets]atomic.Uint64
	sum    atomic.Int64
	min    atomic.Int64
	max    atomic.Int64
}

func newHistogram() *histogram {
	h := &histogram{}
	h.min.Store(math.MaxInt64)
	return h
}

func bucketOf(ns int64) int {
	if ns < subBuckets {
		return int(max(ns, 0))
	}
	p := bits.Len64(uint64(ns)) - 1 // ns in [2^p, 2^(p+1))
	sub := int(ns>>(p-subBits)) & (subBuckets - 1)
	i := (p-subBits+1)*subBuckets + sub
	return min(i, numBuckets-1)
}

// BucketBounds returns the range of latencies that a percentile reported
// as d (Latency's P50, P90, P99, P999) stands for: a percentile is
// reported as the upper bound of the histogram bucket holding it (or Max,
// if smaller), so the latency itself is anywhere from lo to hi, a range
// of about 0.8% of d. Compare two percentiles by their bounds when a
// ratio close to a limit matters.
func BucketBounds(d time.Duration) (lo, hi time.Duration) {
	i := bucketOf(int64(d))
	hi = time.Duration(bucketUpper(i))
	if i > 0 {
		lo = time.Duration(bucketUpper(i-1)) + 1
	}
	return lo, hi
}

// bucketUpper is the largest latency bucket i holds.
func bucketUpper(i int) int64 {
	if i < subBuckets {
		return int64(i)
	}
	p := i/subBuckets + subBits - 1
	sub := int64(i % subBuckets)
	return (int64(1)<<p | sub<<(p-subBits)) + (int64(1) << (p - subBits)) - 1
}

func (h *histogram) observe(d time.Duration) {
	ns := int64(d)
	h.counts[bucketOf(ns)].Add(1)
	h.sum.Add(ns)
	for m := h.min.Load(); ns < m && !h.min.CompareAndSwap(m, ns); m = h.min.Load() {
	}
	for m := h.max.Load(); ns > m && !h.max.CompareAndSwap(m, ns); m = h.max.Load() {
	}
}

// Latency summarises a run's latencies.
type Latency struct {
	Min, Mean, P50, P90, P99, P999, Max time.Duration
	Histogram                           []Bucket
}

// Bucket is one bar of the latency histogram: Count requests took at most
// Upper (and more than the previous bucket's Upper).
type Bucket struct {
	Upper time.Duration
	Count uint64
}

// summary computes percentiles and a coarse histogram of at most bars bars
// (fewer when Max-Min is within the buckets' resolution, about 0.8%).
func (h *histogram) summary(bars int) Latency {
	var counts [numBuckets]uint64
	var total uint64
	for i := range counts {
		counts[i] = h.counts[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return Latency{}
	}
	l := Latency{
		Min:  time.Duration(h.min.Load()),
		Max:  time.Duration(h.max.Load()),
		Mean: time.Duration(h.sum.Load() / int64(total)),
	}
	q := func(p float64) time.Duration {
		rank := uint64(math.Ceil(p * float64(total)))
		var seen uint64
		for i, c := range counts {
			seen += c
			if seen >= rank && c > 0 {
				return min(time.Duration(bucketUpper(i)), l.Max)
			}
		}
		return l.Max
	}
	l.P50, l.P90, l.P99, l.P999 = q(0.50), q(0.90), q(0.99), q(0.999)
	// The histogram: bars of equal width between min and max, no narrower
	// than the bucket Min is in (about 0.8% of it): narrower bars would
	// place whole buckets by their upper edge, bars away from where their
	// latencies are (a comb, Min's bar empty).
	if bars > 0 && l.Max > l.Min {
		width := (l.Max - l.Min) / time.Duration(bars)
		at := bucketOf(int64(l.Min))
		if res := time.Duration(bucketUpper(at) - bucketUpper(at-1)); at > 0 && width < res {
			width = res
			bars = int((l.Max - l.Min + width - 1) / width)
		}
		if width <= 0 {
			width = 1
		}
		out := make([]Bucket, bars)
		for i := range out {
			out[i].Upper = l.Min + width*time.Duration(i+1)
		}
		out[bars-1].Upper = l.Max
		for i, c := range counts {
			if c == 0 {
				continue
			}
			// Bar b holds (Min+width*b, Min+width*(b+1)]: a latency on a
			// bar's Upper is in that bar; Min itself in the first.
			v := min(time.Duration(bucketUpper(i)), l.Max)
			b := int((v-l.Min+width-1)/width) - 1
			out[min(max(b, 0), bars-1)].Count += c
		}
		l.Histogram = out
	} else {
		l.Histogram = []Bucket{{Upper: l.Max, Count: total}}
	}
	return l
}
