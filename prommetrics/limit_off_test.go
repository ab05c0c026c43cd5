package prommetrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestLimitOffIsMinusOne: msgpattern_limit{name} is -1 for a bound that is
// off, whatever negative value turned it off. A duration turned off with
// -1 (1 ns, as the repository's own tests do) used to be exported as -1e-09.
func TestLimitOffIsMinusOne(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  rpc.Config
	}{
		{"minus one", rpc.Config{
			WriteTimeout: -1, FrameTimeout: -1, EvictIdleAfter: -1, MaxConnections: -1,
			MaxQueuedReplyBytes: -1, MemoryBudget: -1, MaxInFlight: -1, MaxHandlers: -1,
			MaxFrameSize: -1, MinFrameRate: -1,
		}},
		{"more negative", rpc.Config{
			WriteTimeout: -2 * time.Second, FrameTimeout: -time.Millisecond, EvictIdleAfter: -time.Hour, MaxConnections: -7,
			MaxQueuedReplyBytes: -1 << 20, MemoryBudget: -5, MaxInFlight: -3, MaxHandlers: -100,
			MaxFrameSize: -2, MinFrameRate: -500,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := rpc.NewServer(&tc.cfg, quietLogger)
			reg := prometheus.NewRegistry()
			reg.MustRegister(NewCollector(srv))
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			var limit *dto.MetricFamily
			for _, mf := range mfs {
				if mf.GetName() == "msgpattern_limit" {
					limit = mf
				}
			}
			if limit == nil {
				t.Fatal("no msgpattern_limit")
			}
			if n := len(limit.GetMetric()); n != 10 {
				t.Errorf("%d bounds, want 10", n)
			}
			for _, m := range limit.GetMetric() {
				if v := m.GetGauge().GetValue(); v != -1 {
					t.Errorf("msgpattern_limit{name=%q} = %g, want -1 (the bound is off)", m.GetLabel()[0].GetValue(), v)
				}
			}
		})
	}
}
