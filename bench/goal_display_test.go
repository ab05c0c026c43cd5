package main

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// shownValue is the number a goal row's "measured" column shows first
// ("0.60×", "8.0 KiB", "4.00× (…)").
func shownValue(t *testing.T, measured string) float64 {
	t.Helper()
	f := strings.Fields(measured)
	if len(f) == 0 {
		t.Fatalf("empty measured column")
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "×"), 64)
	if err != nil {
		t.Fatalf("measured %q: %v", measured, err)
	}
	return v
}

// TestGoalRowShowsWhyItFallsShort: a goal judged on the unrounded ratio
// showed the ratio rounded to the goal's own value — "0.60× | ≥ 0.60× |
// FALL SHORT" for 0.597, "4.00× | ≥ 4× | FALL SHORT" for 3.996, "8.0 KiB |
// ≤ 8 KiB | FALL SHORT" for 8.04 —, a row that contradicts itself: the
// number shown meets the goal. The measured column must show enough digits
// to put the value on the side of the limit the verdict says it is on.
func TestGoalRowShowsWhyItFallsShort(t *testing.T) {
	el := 5 * time.Second
	big := shape{16, 64, smallPayload}
	mk := func(target string, rps float64) *cell {
		return &cell{target: target, samples: []sample{{rps: rps, requests: uint64(rps * 5), elapsed: el}}}
	}
	r := &report{opts: &options{}, shapes: []shapeResult{{shape: big, cells: []*cell{
		mk(tCeiling, 1_000_000), mk(tMsgpattern, 597_000), mk(tNest, 99_600), mk(tGRPC, 59_900),
	}}}}
	r.e2e = []*e2eRow{
		{name: "msgpattern rpc.Client (pool 1) → msgpattern server", rps: []float64{199_800}},
		{name: "NestJS ClientProxy → NestJS server", rps: []float64{50_000}},
	}
	r.mem = []*memRow{{target: tMsgpattern, conns: 10000, beforeKB: 25_000, afterKB: 25_000 + 80_400, perConnKiB: 8.04}}
	gs := r.goals()
	for _, tc := range []struct {
		prefix  string
		limit   float64
		atLeast bool // "≥ limit", else "≤ limit"
	}{
		{big.String() + ": msgpattern ÷ ceiling", 0.6, true}, // 0.597
		{big.String() + ": msgpattern ÷ NestJS", 6, true},    // 5.994
		{big.String() + ": msgpattern ÷ gRPC-go", 10, true},  // 9.967
		{"msgpattern rpc.Client (pool 1)", 4, true},          // 3.996
		{"msgpattern: RSS per idle connection", 8, false},    // 8.04
	} {
		g := goalRow(t, gs, tc.prefix)
		v := shownValue(t, g.measured)
		meets := v >= tc.limit
		if !tc.atLeast {
			meets = v <= tc.limit
		}
		if g.verdict == "FALL SHORT" && meets {
			t.Errorf("%q: measured %q, goal %q → %s: the value shown meets the goal", g.what, g.measured, g.want, g.verdict)
		}
	}
}
