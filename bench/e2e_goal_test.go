package main

import "testing"

// TestE2EGoalNotJudgedWithLostRepetition: the end-to-end goal ("ours ÷
// the NestJS pair ≥ 4×") is judged on each row's best repetition, but a
// repetition that failed (errors, bench.mjs crashed) is dropped from the
// row and stops the row's later repetitions, while the goal still reads
// PASS or FALL SHORT: best of 2 on one side against best of 1 on the
// other, and a row whose run failed judged as if it had not — unlike the
// TCP and NATS goals, NOT MEASURED when a target lost a repetition.
func TestE2EGoalNotJudgedWithLostRepetition(t *testing.T) {
	ours := &e2eRow{name: "msgpattern rpc.Client (pool 1) → msgpattern server", rps: []float64{210000, 240000}}
	nest := &e2eRow{name: "NestJS ClientProxy → NestJS server", rps: []float64{52000},
		err: "bench.mjs: 3117 errors: Error: Connection closed"}
	r := &report{opts: &options{reps: 2}, e2e: []*e2eRow{ours, nest}}
	g := goalRow(t, r.goals(), ours.name+" ÷ the NestJS pair")
	if g.verdict != "NOT MEASURED" {
		t.Errorf("the NestJS pair lost repetition 2 (%s) and has 1 of 2 repetitions against our 2, yet %q: %s → %s",
			nest.err, g.what, g.measured, g.verdict)
	}
	ours.err, nest.err = "1 errors, first: context deadline exceeded", ""
	nest.rps = []float64{52000, 53000}
	ours.rps = ours.rps[:1]
	g = goalRow(t, r.goals(), ours.name+" ÷ the NestJS pair")
	if g.verdict != "NOT MEASURED" {
		t.Errorf("our pair lost repetition 2 (%s), yet %q: %s → %s", ours.err, g.what, g.measured, g.verdict)
	}
}
