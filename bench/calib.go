package main

// Calibration of the ceiling: loadtest cannot drive internal/loadgen's
// ceiling (its replies all carry the id "id-sum"), so the suite's ceiling is
// the same loop echoing the request's id. This checks that the echo costs
// nothing that matters: both ceilings driven by loadgen.Run (which counts
// replies without reading ids) at 16×64, "sum" [1,2], interleaved.

import (
	"context"

	"github.com/msgpattern/msgpattern/internal/loadgen"
)

type calibRow struct {
	name string
	rps  []float64
	err  string
}

func (r *calibRow) best() float64 {
	b := 0.0
	for _, x := range r.rps {
		b = max(b, x)
	}
	return b
}

func runCalibration(_ context.Context, o *options, rep *report) []*calibRow {
	logf("== ceiling calibration (loadgen.Run, 16×64)")
	rows := []*calibRow{
		{name: "internal/loadgen.StartCeiling (fixed reply, id \"id-sum\")"},
		{name: "the suite's ceiling (same loop, reply echoing the id)"},
	}
	kinds := []string{kindLoadgenCeiling, kindCeiling}
	exe, err := selfExe()
	if err != nil {
		rows[0].err, rows[1].err = err.Error(), err.Error()
		return rows
	}
	procs := make([]*child, 2)
	for i, k := range kinds {
		c, err := startChild(k, o.root, []string{exe, "server", k, "--port", "0"})
		if err != nil {
			rows[i].err = err.Error()
			continue
		}
		procs[i] = c
		defer c.kill()
	}
	rate := 500000.0
	if c := rep.cell(shapes[0], tCeiling); c != nil {
		if s, ok := c.best(); ok {
			rate = s.rps
		}
	}
	total := max(16*64, int(rate*o.duration.Seconds()/2))
	for i, c := range procs { // warm-up
		if c != nil {
			if _, err := loadgen.Run(c.addr, 16, 64, total/4, loadgen.SumFrame); err != nil {
				rows[i].err = err.Error()
			}
		}
	}
	for range o.reps {
		for i, c := range procs {
			if c == nil || rows[i].err != "" {
				continue
			}
			res, err := loadgen.Run(c.addr, 16, 64, total, loadgen.SumFrame)
			if err != nil {
				rows[i].err = err.Error()
				continue
			}
			rows[i].rps = append(rows[i].rps, res.PerSecond())
			logf("   %-16s %9.0f req/s", kinds[i], res.PerSecond())
		}
	}
	return rows
}
