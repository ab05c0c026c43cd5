//go:build !(aix || plan9 || (freebsd && !cgo && !amd64 && !arm64))

package natsrpc

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestDiscoveryStatsReused: anyone on the NATS server may send discovery
// requests, and each $SRV.STATS built its reply anew (the server's metrics
// and a marshal of every endpoint: about 1 ms with 300 patterns), unlimited
// by any rate limit. A STATS reply is now reused for statsFresh: a request
// served in between shows in STATS only once that has passed (the clock
// here is the test's, so nothing depends on the machine's speed).
func TestDiscoveryStatsReused(t *testing.T) {
	ns := runNATS(t)
	srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv.Handle("sum", rpc.Typed(func(_ context.Context, in []int) (int, error) {
		s := 0
		for _, v := range in {
			s += v
		}
		return s, nil
	}))
	s, err := Connect(srv, ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())

	var clock atomic.Int64 // nanoseconds since start
	start := time.Now()
	s.disc.mu.Lock()
	s.disc.now = func() time.Time { return start.Add(time.Duration(clock.Load())) }
	s.disc.mu.Unlock()

	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sumCount := func() uint64 {
		t.Helper()
		var stats struct {
			Endpoints []struct {
				Subject     string `json:"subject"`
				NumRequests uint64 `json:"num_requests"`
			}
		}
		rep, err := nc.Request("$SRV.STATS", nil, 5*time.Second)
		if err != nil || json.Unmarshal(rep.Data, &stats) != nil {
			t.Fatalf("STATS: %v", err)
		}
		for _, e := range stats.Endpoints {
			if e.Subject == "sum" {
				return e.NumRequests
			}
		}
		t.Fatalf("STATS has no endpoint sum: %s", rep.Data)
		return 0
	}

	if n := sumCount(); n != 0 {
		t.Fatalf("STATS before any call: sum %d", n)
	}
	c, err := Dial(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if got, err := rpc.Call[[]int, int](ctx, c, "sum", []int{1, 2}); err != nil || got != 3 {
		t.Fatalf("sum: %d, %v", got, err)
	}
	// The reply goes out before the server counts its request: wait for
	// the count, which a STATS built afresh must then show.
	counted := func() bool {
		for _, p := range srv.GetMetrics().Patterns {
			if p.Pattern == "sum" {
				return p.Count > 0
			}
		}
		return false
	}
	for deadline := time.Now().Add(5 * time.Second); !counted(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server never counted the request")
		}
	}
	clock.Add(int64(statsFresh) - 1)
	if n := sumCount(); n != 0 {
		t.Errorf("STATS within %v of the last: sum %d, want the reused reply's 0", statsFresh, n)
	}
	clock.Add(1)
	if n := sumCount(); n != 1 {
		t.Errorf("STATS %v after the last: sum %d, want 1", statsFresh, n)
	}
}
