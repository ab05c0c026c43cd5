package loadtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/loadtest"
	"github.com/msgpattern/msgpattern/rpc"
)

func startServer(t *testing.T, cfg rpc.Config) *rpc.Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	if cfg.RateLimitPerSec == 0 {
		cfg.RateLimitPerSec = -1
	}
	srv := rpc.NewServer(&cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv.Handle("sum", rpc.Func(func(json.RawMessage) (any, error) { return 3, nil }))
	srv.Handle("slow", rpc.Func(func(json.RawMessage) (any, error) { time.Sleep(2 * time.Millisecond); return 1, nil }))
	srv.Handle("fail", rpc.Func(func(json.RawMessage) (any, error) { return nil, rpc.NewError("no") }))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv
}

func TestRunCountsEveryRequest(t *testing.T) {
	srv := startServer(t, rpc.Config{})
	res, err := loadtest.Run(context.Background(), loadtest.Config{
		Addr: srv.Addr().String(), Connections: 4, InFlight: 16, Requests: 20000,
		Pattern: []byte(`"sum"`), Data: []byte(`[1,2]`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 20000 || res.Errors != 0 {
		t.Fatalf("requests %d, errors %d (%v); want 20000 and 0", res.Requests, res.Errors, res.ByKind)
	}
	// The server counts a request after its reply is written: wait a little.
	got := srv.GetMetrics().Requests
	for deadline := time.Now().Add(5 * time.Second); got != 20000 && time.Now().Before(deadline); got = srv.GetMetrics().Requests {
		time.Sleep(5 * time.Millisecond)
	}
	if got != 20000 {
		t.Errorf("server handled %d requests, want 20000 (no warmup)", got)
	}
	l := res.Latency
	if !(l.Min > 0 && l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
		t.Errorf("latency percentiles out of order: %+v", l)
	}
	var inHist uint64
	for _, b := range l.Histogram {
		inHist += b.Count
	}
	if inHist != 20000 {
		t.Errorf("histogram holds %d requests, want 20000", inHist)
	}
}

func TestRunClassifiesErrors(t *testing.T) {
	open := startServer(t, rpc.Config{RetryAttempts: -1})
	limited := startServer(t, rpc.Config{RateLimitPerSec: 100, RateLimitBurst: 10})
	for _, tc := range []struct {
		srv     *rpc.Server
		pattern string
		kind    string
		atLeast uint64
	}{
		{open, `"nope"`, loadtest.KindNoHandler, 50},
		{open, `"fail"`, loadtest.KindRemote, 50},
		{limited, `"sum"`, loadtest.KindRateLimited, 30},
	} {
		res, err := loadtest.Run(context.Background(), loadtest.Config{
			Addr: tc.srv.Addr().String(), InFlight: 4, Requests: 50, Pattern: []byte(tc.pattern),
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.ByKind[tc.kind] < tc.atLeast {
			t.Errorf("%s: errors %v; want at least %d of kind %s", tc.pattern, res.ByKind, tc.atLeast, tc.kind)
		}
	}
}

func TestRunDurationRateAndWarmup(t *testing.T) {
	srv := startServer(t, rpc.Config{})
	var reports int
	res, err := loadtest.Run(context.Background(), loadtest.Config{
		Addr: srv.Addr().String(), Connections: 2, InFlight: 4,
		Duration: 500 * time.Millisecond, Rate: 400, Warmup: 100 * time.Millisecond,
		Pattern: []byte(`"slow"`), ProgressEvery: 100 * time.Millisecond,
		Progress: func(loadtest.Progress) { reports++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	// 400/s for 0.5s: about 200 requests; generous bounds for a noisy machine.
	if res.Requests < 100 || res.Requests > 300 || res.Errors != 0 {
		t.Errorf("rate-limited run: %d requests, %d errors; want about 200 and 0", res.Requests, res.Errors)
	}
	if reports < 2 {
		t.Errorf("%d progress reports, want several", reports)
	}
	time.Sleep(100 * time.Millisecond) // the server counts after replying
	if handled := srv.GetMetrics().Requests; handled <= res.Requests {
		t.Errorf("the server handled %d requests, the run measured %d: warmup requests must not be measured", handled, res.Requests)
	}
}

func TestRunFailsToDial(t *testing.T) {
	_, err := loadtest.Run(context.Background(), loadtest.Config{Addr: "127.0.0.1:1", Requests: 1, Pattern: []byte(`"x"`)})
	if err == nil {
		t.Fatal("want a dial error")
	}
	var zero loadtest.Config
	if _, err := loadtest.Run(context.Background(), zero); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("empty config: %v", err)
	}
}
