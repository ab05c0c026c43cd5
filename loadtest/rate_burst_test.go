package loadtest_test

import (
	"context"
	"testing"

	"github.com/msgpattern/msgpattern/loadtest"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestRateCapsTheAchievedRate: Rate caps the requests per second of the
// run, and Result.RPS, the achieved rate to compare with it, does not
// exceed it. The limiter's bucket started full, so the first Rate/100
// requests went at once, uncounted by the pacing: -n 1000 --rate 50000
// reported 87 000 requests/s.
func TestRateCapsTheAchievedRate(t *testing.T) {
	// Few senders: the limiter is not contended (under -race, many
	// concurrent waiters get x/time/rate's Limiter past its rate anyway).
	srv := startServer(t, rpc.Config{})
	for _, tc := range []struct {
		name           string
		requests, rate int // rate/100 the bucket
		run            func(loadtest.Config) (loadtest.Result, error)
	}{
		{"Run", 200, 2000, func(cfg loadtest.Config) (loadtest.Result, error) {
			cfg.Addr, cfg.Pattern, cfg.InFlight = srv.Addr().String(), []byte(`"sum"`), 4
			return loadtest.Run(context.Background(), cfg)
		}},
		{"RunCalls", 2000, 20000, func(cfg loadtest.Config) (loadtest.Result, error) {
			return loadtest.RunCalls(context.Background(), cfg, func(context.Context, int) (string, error) { return "", nil })
		}},
	} {
		requests, rate := tc.requests, float64(tc.rate)
		res, err := tc.run(loadtest.Config{Requests: requests, Rate: rate})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		// One request more than Rate × Elapsed: the first goes at once.
		if res.Requests != uint64(requests) || res.RPS > rate*1.02 {
			t.Errorf("%s: %d requests at %g/s: %d in %s, %.0f requests/s; want at most %g/s",
				tc.name, requests, rate, res.Requests, res.Elapsed, res.RPS, rate)
		}
	}
}
