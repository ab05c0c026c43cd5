package loadtest_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/testcert"
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
	srv.Handle("late", rpc.Func(func(json.RawMessage) (any, error) { time.Sleep(150 * time.Millisecond); return 1, nil }))
	srv.Handle("hang", rpc.Typed(func(ctx context.Context, _ json.RawMessage) (any, error) {
		select { // silent for longer than any Timeout here, short enough for the cleanup
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
		return nil, errors.New("hung")
	}))
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
	// 400/s for 0.5s: about 200 requests. More than 300 breaks the cap and
	// fails at once. Fewer than 100 is what a machine too loaded to wake
	// the run's goroutines on time gives too (11 seen under -race at a
	// load average of 9): that round is run again, three at most.
	for round := 1; ; round++ {
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
		if res.Requests > 300 || res.Errors != 0 {
			t.Fatalf("rate-limited run: %d requests, %d errors; want about 200 and 0", res.Requests, res.Errors)
		}
		if res.Requests < 100 {
			if round == 3 {
				t.Fatalf("rate-limited run: under 100 requests in each of three rounds (the last: %d); want about 200", res.Requests)
			}
			t.Logf("round %d: %d requests, want about 200: a starved machine; again", round, res.Requests)
			continue
		}
		if reports < 2 {
			t.Errorf("%d progress reports, want several", reports)
		}
		time.Sleep(100 * time.Millisecond) // the server counts after replying
		if handled := srv.GetMetrics().Requests; handled <= res.Requests {
			t.Errorf("the server handled %d requests, the run measured %d: warmup requests must not be measured", handled, res.Requests)
		}
		return
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

// TestRunTimeout: a request without its reply after Timeout counts as
// deadline_exceeded and frees its slot for the next, so that a run of
// Requests against a server that never answers ends; a reply that comes
// after the timeout is not counted again.
func TestRunTimeout(t *testing.T) {
	srv := startServer(t, rpc.Config{})
	for _, tc := range []struct {
		pattern string
		timeout time.Duration
	}{
		{`"hang"`, 100 * time.Millisecond},
		{`"late"`, 50 * time.Millisecond}, // answers after 150ms
	} {
		start := time.Now()
		res, err := loadtest.Run(context.Background(), loadtest.Config{
			Addr: srv.Addr().String(), Connections: 2, InFlight: 3, Requests: 12,
			Timeout: tc.timeout, Pattern: []byte(tc.pattern),
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 12 || res.Errors != 12 || res.ByKind[loadtest.KindDeadline] != 12 || len(res.ByKind) != 1 {
			t.Errorf("%s with Timeout %s: %d requests, %d errors %v; want 12 deadline_exceeded",
				tc.pattern, tc.timeout, res.Requests, res.Errors, res.ByKind)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s: the run took %s; 2 rounds of %s expected", tc.pattern, took, tc.timeout)
		}
	}
	// A run of Duration drains within Timeout: what is left is deadline_exceeded.
	res, err := loadtest.Run(context.Background(), loadtest.Config{
		Addr: srv.Addr().String(), InFlight: 2, Duration: 100 * time.Millisecond,
		Timeout: 200 * time.Millisecond, Pattern: []byte(`"hang"`),
	})
	if err != nil || res.Requests != 2 || res.ByKind[loadtest.KindDeadline] != 2 {
		t.Errorf("run of a duration against a silent handler: %+v, %v; want 2 deadline_exceeded", res, err)
	}
}

// TestRunTLS: Config.TLS dials TLS.
func TestRunTLS(t *testing.T) {
	certs := testcert.New(t, t.TempDir())
	srv := startServer(t, rpc.Config{TLSConfig: certs.ServerConfig(true)})
	res, err := loadtest.Run(context.Background(), loadtest.Config{
		Addr: srv.Addr().String(), TLS: certs.ClientConfig(true), InFlight: 4, Requests: 100, Pattern: []byte(`"sum"`),
	})
	if err != nil || res.Requests != 100 || res.Errors != 0 {
		t.Errorf("over TLS: %+v, %v", res, err)
	}
	res, err = loadtest.Run(context.Background(), loadtest.Config{
		Addr: srv.Addr().String(), TLS: certs.ClientConfig(false), Requests: 1, Pattern: []byte(`"sum"`),
	})
	if err == nil && res.Errors == 0 {
		t.Errorf("a client without the certificate the server requires: %+v", res)
	}
	if _, err := loadtest.Run(context.Background(), loadtest.Config{
		Addr: srv.Addr().String(), TLS: &tls.Config{MinVersion: tls.VersionTLS12}, Requests: 1, Pattern: []byte(`"sum"`),
	}); err == nil || !strings.HasPrefix(err.Error(), "loadtest: ") {
		t.Errorf("a server certificate from an unknown CA: %v, want a loadtest: error", err)
	}
}

// TestRunCalls: the phases, quota, kinds and timeouts of Run, with the
// requests made by a function.
func TestRunCalls(t *testing.T) {
	var calls atomic.Int64
	conns := make([]atomic.Int64, 3)
	res, err := loadtest.RunCalls(context.Background(), loadtest.Config{Connections: 3, InFlight: 4, Requests: 600},
		func(_ context.Context, conn int) (string, error) {
			conns[conn].Add(1)
			switch calls.Add(1) % 3 {
			case 0:
				return loadtest.ErrorKind([]byte(`"There is no matching message handler defined in the remote service."`)), nil
			case 1:
				return "", nil
			}
			time.Sleep(time.Millisecond)
			return loadtest.ErrorKind([]byte(`{"status":"error","message":"Request timed out"}`)), nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 600 || res.Errors != 400 || res.ByKind[loadtest.KindNoHandler] != 200 || res.ByKind[loadtest.KindTimeout] != 200 {
		t.Errorf("RunCalls: %d requests, %d errors %v; want 600, 400: 200 no_handler, 200 timeout", res.Requests, res.Errors, res.ByKind)
	}
	if res.Latency.Max < time.Millisecond || res.Latency.Histogram == nil {
		t.Errorf("RunCalls latencies: %+v", res.Latency)
	}
	for i := range conns {
		if conns[i].Load() == 0 {
			t.Errorf("connection %d made no call", i)
		}
	}

	res, err = loadtest.RunCalls(context.Background(), loadtest.Config{InFlight: 2, Requests: 4, Timeout: 50 * time.Millisecond},
		func(ctx context.Context, _ int) (string, error) {
			<-ctx.Done()
			return loadtest.KindNoReply, nil
		})
	if err != nil || res.Requests != 4 || res.ByKind[loadtest.KindDeadline] != 4 || len(res.ByKind) != 1 {
		t.Errorf("RunCalls of calls that time out: %+v, %v; want 4 deadline_exceeded", res, err)
	}
}

// TestRunConnectionLostAtOnce: a server that hangs up as soon as it
// accepts. Every run must say so: a request counted as no_reply, or an
// error. When the connection died before a measured request was sent (in
// the warm-up here; in TestRunTLS, now and then, when the TLS 1.3 refusal
// of the client's certificate was read first) the run ended with nothing
// counted and no error, as if all was well.
func TestRunConnectionLostAtOnce(t *testing.T) {
	addr := startHangUpServer(t)
	for i := range 5 {
		res, err := loadtest.Run(context.Background(), loadtest.Config{
			Addr: addr, Requests: 1, Warmup: 20 * time.Millisecond, Pattern: []byte(`"sum"`),
		})
		if err == nil && res.Errors == 0 {
			t.Fatalf("run %d against a server that hangs up: %+v, no error", i, res)
		}
	}
}

// TestRunRateDuration: a paced run of Duration stops sending when Duration
// is over. Requests still waiting for their turn then are not sent: they
// were, late, and counted, so that with many waiters the run went on for
// waiters/Rate past Duration and counted as many requests more.
func TestRunRateDuration(t *testing.T) {
	srv := startServer(t, rpc.Config{})
	const (
		duration = 500 * time.Millisecond
		rate     = 20 // requests/s
		expected = 10 // rate × duration
		waiters  = 60 // each waiting for its turn: 3 s of turns
	)
	for _, tc := range []struct {
		name string
		run  func(loadtest.Config) (loadtest.Result, error)
	}{
		{"Run", func(cfg loadtest.Config) (loadtest.Result, error) {
			cfg.Addr, cfg.Pattern, cfg.Connections = srv.Addr().String(), []byte(`"sum"`), waiters
			return loadtest.Run(context.Background(), cfg)
		}},
		{"RunCalls", func(cfg loadtest.Config) (loadtest.Result, error) {
			cfg.InFlight = waiters
			return loadtest.RunCalls(context.Background(), cfg, func(context.Context, int) (string, error) { return "", nil })
		}},
	} {
		res, err := tc.run(loadtest.Config{Duration: duration, Rate: rate})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		// Generous bounds for a noisy machine: the defect gave 3.5 s and 70.
		if res.Elapsed > duration+1500*time.Millisecond || res.Requests > 2*expected {
			t.Errorf("%s of %s at %d/s with %d waiters: %d requests in %s; want about %d, in about %s",
				tc.name, duration, rate, waiters, res.Requests, res.Elapsed.Round(time.Millisecond), expected, duration)
		}
	}
}

// TestRunRateQuota: a paced run of Requests measures every one of them:
// the goroutines that claimed the last ones and wait for their turn send
// them, though the run has stopped taking new ones.
func TestRunRateQuota(t *testing.T) {
	srv := startServer(t, rpc.Config{})
	const requests = 30
	for _, tc := range []struct {
		name string
		run  func(loadtest.Config) (loadtest.Result, error)
	}{
		{"Run", func(cfg loadtest.Config) (loadtest.Result, error) {
			cfg.Addr, cfg.Pattern = srv.Addr().String(), []byte(`"sum"`)
			return loadtest.Run(context.Background(), cfg)
		}},
		{"RunCalls", func(cfg loadtest.Config) (loadtest.Result, error) {
			return loadtest.RunCalls(context.Background(), cfg, func(context.Context, int) (string, error) { return "", nil })
		}},
	} {
		res, err := tc.run(loadtest.Config{Connections: 4, InFlight: 8, Requests: requests, Rate: 200})
		if err != nil || res.Requests != requests || res.Errors != 0 {
			t.Errorf("%s of %d requests at 200/s: %d requests, %d errors, %v; want %d, no error",
				tc.name, requests, res.Requests, res.Errors, err, requests)
		}
	}
}

// TestRunWarmupQuota: a run of Requests measures exactly that many,
// however the end of the warm-up falls among the requests being sent (a
// request could be sent unmeasured but recorded as measured, one more
// than Requests).
func TestRunWarmupQuota(t *testing.T) {
	srv := startServer(t, rpc.Config{})
	const requests = 500
	for _, tc := range []struct {
		name string
		runs int // the race is narrow: many short runs
		run  func(loadtest.Config) (loadtest.Result, error)
	}{
		{"Run", 300, func(cfg loadtest.Config) (loadtest.Result, error) {
			cfg.Addr, cfg.Pattern = srv.Addr().String(), []byte(`"sum"`)
			return loadtest.Run(context.Background(), cfg)
		}},
		{"RunCalls", 100, func(cfg loadtest.Config) (loadtest.Result, error) {
			return loadtest.RunCalls(context.Background(), cfg, func(context.Context, int) (string, error) {
				time.Sleep(time.Microsecond) // blocks, as a call does: busy calls would starve the warmup's timer
				return "", nil
			})
		}},
	} {
		for i := range tc.runs {
			res, err := tc.run(loadtest.Config{Connections: 8, InFlight: 32, Requests: requests, Warmup: time.Millisecond})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if res.Requests != requests {
				t.Fatalf("%s, run %d: %d requests measured, want %d", tc.name, i, res.Requests, requests)
			}
		}
	}
}

// TestRunCallsConnectionLost: a call that reports its connection lost
// ends that connection's calls, those waiting for their turn (Rate)
// included, as Run's connections end when they die; the run ends once
// every connection is lost, rather than calling dead connections until
// Duration is over. A run that lost them all before measuring anything
// says why.
func TestRunCallsConnectionLost(t *testing.T) {
	gone := errors.New("connection closed")
	t.Run("after some calls", func(t *testing.T) {
		const conns, inFlight, callsEach = 2, 3, 5
		calls := make([]atomic.Int64, conns)
		res, err := loadtest.RunCalls(context.Background(), loadtest.Config{
			Connections: conns, InFlight: inFlight, Duration: time.Minute, Rate: 200,
		}, func(_ context.Context, conn int) (string, error) {
			if calls[conn].Add(1) > callsEach {
				return loadtest.KindNoReply, fmt.Errorf("lost: %w", gone)
			}
			return "", nil
		})
		if err != nil || res.Elapsed > 10*time.Second || res.ByKind[loadtest.KindNoReply] == 0 {
			t.Errorf("connections lost after %d calls each: %+v, %v; want the run to end at once, with no_reply errors and no error",
				callsEach, res, err)
		}
		for conn := range calls {
			// A call that passed its check as the connection was lost
			// still goes: at most one per goroutine.
			if n := calls[conn].Load(); n > callsEach+inFlight {
				t.Errorf("connection %d: %d calls, want at most %d: calls went on after it was lost", conn, n, callsEach+inFlight)
			}
		}
	})
	t.Run("the others carry on", func(t *testing.T) {
		// Connection 0 is lost while its other goroutines wait for their
		// turn, each with a request of the quota: connection 1 sends them.
		const requests = 40
		var calls0 atomic.Int64
		res, err := loadtest.RunCalls(context.Background(), loadtest.Config{
			Connections: 2, InFlight: 4, Requests: requests, Rate: 400,
		}, func(_ context.Context, conn int) (string, error) {
			if conn == 0 && calls0.Add(1) >= 3 {
				return loadtest.KindNoReply, gone
			}
			return "", nil
		})
		if err != nil || res.Requests != requests || res.ByKind[loadtest.KindNoReply] == 0 {
			t.Errorf("one connection of two lost: %+v, %v; want %d requests, some no_reply", res, err, requests)
		}
	})
	t.Run("during the warmup", func(t *testing.T) {
		res, err := loadtest.RunCalls(context.Background(), loadtest.Config{
			Connections: 2, InFlight: 2, Duration: time.Minute, Warmup: 50 * time.Millisecond,
		}, func(context.Context, int) (string, error) { return loadtest.KindNoReply, gone })
		if !errors.Is(err, gone) || res.Requests != 0 || res.Elapsed > 10*time.Second {
			t.Errorf("connections lost before any measured call: %+v, %v; want at once an error wrapping %q", res, err, gone)
		}
	})
}

// startHangUpServer listens on a free port and closes every connection as
// soon as it accepts it; it returns the address.
func startHangUpServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			nc.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}
