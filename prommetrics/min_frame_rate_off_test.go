package prommetrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestMinFrameRateOffWithFrameTimeout: rpc.Config documents that a
// negative FrameTimeout means "no limit (and then no MinFrameRate
// either)": the rate floor is only applied under a frame deadline. The
// package documentation says msgpattern_limit holds -1 "when a bound is
// off", yet min_frame_rate_bytes_per_second kept the default 500 of a
// bound that is not enforced.
func TestMinFrameRateOffWithFrameTimeout(t *testing.T) {
	srv := rpc.NewServer(&rpc.Config{FrameTimeout: -1}, quietLogger)
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(srv))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "msgpattern_limit" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	if v := got["frame_timeout_seconds"]; v != -1 {
		t.Fatalf("precondition: frame_timeout_seconds = %g, want -1", v)
	}
	if v := got["min_frame_rate_bytes_per_second"]; v != -1 {
		t.Errorf("min_frame_rate_bytes_per_second = %g with FrameTimeout off (MinFrameRate is then not applied); want -1", v)
	}
}
