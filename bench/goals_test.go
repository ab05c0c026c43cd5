package main

import (
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/loadtest"
)

func goalRow(t *testing.T, gs []goal, prefix string) goal {
	t.Helper()
	for _, g := range gs {
		if strings.HasPrefix(g.what, prefix) {
			return g
		}
	}
	t.Fatalf("no goal row %q in %v", prefix, gs)
	return goal{}
}

// reported is how loadtest reports a percentile of d: its bucket's upper
// bound.
func reported(d time.Duration) time.Duration {
	_, hi := loadtest.BucketBounds(d)
	return hi
}

// TestOneByOneP50Verdict: percentiles are reported as their bucket's upper
// bound, and at 1×1 the goal is a p50 ratio of 1.2. With 3% buckets a true
// ratio of 1.198 (50.2 µs against 41.9 µs) read "1.22× (51 µs vs 42 µs)",
// FALL SHORT: the docs' own row of 2026-12-02 23:22 was exactly that pair
// of buckets, whose true ratio lay anywhere in 1.195–1.250. The verdict is
// judged on the range each reported percentile stands for now.
func TestOneByOneP50Verdict(t *testing.T) {
	sh := shape{1, 1, smallPayload}
	for _, tc := range []struct {
		ours, ceil time.Duration
		want       string // verdict prefix
	}{
		{48000 * time.Nanosecond, 41900 * time.Nanosecond, "PASS"},       // 1.146
		{50200 * time.Nanosecond, 41900 * time.Nanosecond, "UNDECIDED"},  // 1.198, within a bucket of 1.2
		{50600 * time.Nanosecond, 41900 * time.Nanosecond, "FALL SHORT"}, // 1.208: told apart by 0.8% buckets
		{52000 * time.Nanosecond, 41900 * time.Nanosecond, "FALL SHORT"}, // 1.241
		{74000 * time.Nanosecond, 40000 * time.Nanosecond, "FALL SHORT"}, // 1.85
	} {
		mk := func(target string, p50 time.Duration) *cell {
			return &cell{target: target, samples: []sample{{rps: 10000, requests: 50000, elapsed: 5 * time.Second, p50: reported(p50), p99: reported(p50)}}}
		}
		r := &report{opts: &options{}, shapes: []shapeResult{{shape: sh, cells: []*cell{mk(tCeiling, tc.ceil), mk(tMsgpattern, tc.ours)}}}}
		g := goalRow(t, r.goals(), sh.String()+": msgpattern ÷ ceiling, p50")
		if !strings.HasPrefix(g.verdict, tc.want) {
			t.Errorf("true p50 ratio %.3f (%v ÷ %v): row %s → %s, want %s", float64(tc.ours)/float64(tc.ceil), tc.ours, tc.ceil, g.measured, g.verdict, tc.want)
		}
	}
}

// TestNATSSaturatedFromSavedRun: the numbers of msgpattern's best NATS
// 16×64 repetition in docs/BENCHMARKS.md (2026-12-02 23:22 UTC): our server
// 0.66 cores, the NATS server 0.49, the load generator 0.68 — 1.83 cores
// used by those three processes alone, 91.5% of 2 — but /proc/stat's
// "machine busy" says 1.79. The rule's "saturated" (≥ 90%) is decided on
// the 1.79, so the zero-cost bound row says NOT MEASURED and the note says
// the machine was not saturated.
func TestNATSSaturatedFromSavedRun(t *testing.T) {
	// The saved run is from a 2-core machine: judge it as that machine,
	// whatever this one has.
	defer func(f func() int) { numCPU = f }(numCPU)
	numCPU = func() int { return 2 }
	el := 5 * time.Second
	cores := func(c float64) time.Duration { return time.Duration(c * float64(el)) }
	ours := natsSample{
		sample: sample{rps: 64630, requests: 64630 * 5, elapsed: el, cpu: cores(0.66)},
		broker: cores(0.49), loadgen: cores(0.68), busy: cores(1.79),
	}
	nest := natsSample{
		sample: sample{rps: 45296, requests: 45296 * 5, elapsed: el, cpu: cores(0.72)},
		broker: cores(0.37), loadgen: cores(0.57), busy: cores(1.59),
	}
	sh := natsShapes[0]
	r := &report{opts: &options{}, nats: &natsResult{shapes: []natsShapeResult{{shape: sh, cells: []*natsCell{
		{target: tMsgpattern, samples: []natsSample{ours}},
		{target: tNest, samples: []natsSample{nest}},
	}}}}}
	used := ours.cpu + ours.broker + ours.loadgen
	t.Logf("three processes: %.2f cores; machine busy: %.2f cores; saturated(): %v",
		ours.coresOf(used), ours.coresOf(ours.busy), ours.saturated())
	g := goalRow(t, r.goals(), "NATS "+sh.String()+": the most any server")
	t.Logf("bound row: %s → %s", g.measured, g.verdict)
	if ours.coresOf(used) >= natsSaturated*2 && g.verdict == "NOT MEASURED" {
		t.Errorf("the three measured processes alone used %.2f of 2 cores (≥ 90%%), yet the bound row says NOT MEASURED (machine busy %.2f < processes' %.2f)",
			ours.coresOf(used), ours.coresOf(ours.busy), ours.coresOf(used))
	}
}

// TestGoalVerdictIgnoresErrors: a target whose every "request" was an
// error reply still passes a throughput goal: rps counts error replies
// (loadtest.Result.Requests includes them) and goals() never looks at
// errors.
func TestGoalVerdictIgnoresErrors(t *testing.T) {
	sh := shape{16, 64, smallPayload}
	r := &report{opts: &options{}, shapes: []shapeResult{{shape: sh, cells: []*cell{
		{target: tNest, samples: []sample{{rps: 50000, requests: 250000, elapsed: 5 * time.Second}}},
		{target: tMsgpattern, samples: []sample{{rps: 450000, requests: 2250000, errors: 2250000, errKinds: "remote_error 2250000", elapsed: 5 * time.Second}}},
	}}}}
	g := goalRow(t, r.goals(), sh.String()+": msgpattern ÷ NestJS")
	if g.verdict == "PASS" {
		t.Errorf("every msgpattern request failed, yet %q: %s %s", g.what, g.measured, g.verdict)
	}
}

// TestNATSGoalNotJudgedWithErrors: the NATS throughput goal was judged when
// a target had errors or lost a repetition, as the TCP goals no longer
// are: NestJS timing out most of its calls (only good replies count, and
// each timeout holds a caller for the call's timeout) made msgpattern ÷
// NestJS read 5× and PASS.
func TestNATSGoalNotJudgedWithErrors(t *testing.T) {
	el := 5 * time.Second
	ours := natsSample{sample: sample{rps: 60000, requests: 300000, elapsed: el}}
	nest := natsSample{sample: sample{rps: 12000, requests: 60000, errors: 900, errKinds: "timeout", elapsed: el}}
	sh := natsShapes[0]
	r := &report{opts: &options{}, nats: &natsResult{shapes: []natsShapeResult{{shape: sh, cells: []*natsCell{
		{target: tMsgpattern, samples: []natsSample{ours}},
		{target: tNest, samples: []natsSample{nest}, err: "rep 2: no reply at all"},
	}}}}}
	g := goalRow(t, r.goals(), "NATS "+sh.String()+": msgpattern ÷ NestJS")
	if g.verdict != "NOT MEASURED" {
		t.Errorf("NestJS saw %d errors and lost a repetition, yet %q: %s → %s", nest.errors, g.what, g.measured, g.verdict)
	}
}

// TestReportSaysGRPCBucketsAreCoarser: the report said gRPC latencies were
// timed into loadtest's buckets once loadtest's became 4× finer.
func TestReportSaysGRPCBucketsAreCoarser(t *testing.T) {
	r := &report{opts: &options{}}
	if md := r.markdown(); strings.Contains(md, "into the same log-linear buckets") || !strings.Contains(md, "coarser 3% buckets") {
		t.Error("the report must say gRPC latencies use coarser buckets (32 sub-buckets, ~3%) than loadtest's (128, ~0.8%)")
	}
}
