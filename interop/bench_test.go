package interop_test

// Our client and a real NestJS ClientProxy calling the same Go server, at
// the same concurrency, measured in the same run:
//
//	go test -run '^$' -bench BenchmarkParallelCalls -benchtime 3s ./interop/
//
// Both the client and the server share the machine's cores, so only the
// ratio between rows means anything (see ../docs/PERFORMANCE-NOTES.md).
// allocs/op counts the allocations of this Go process per call: the client
// and the server for "go-client", the server alone for "nestjs-client"
// (node is another process), so their difference is the client's share.

import (
	"context"
	"encoding/json"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/demo"
	"github.com/msgpattern/msgpattern/rpc"
)

// benchConcurrency is how many calls are in flight at once, for every
// client measured.
const benchConcurrency = 128

// benchNestMajor is the NestJS client the benchmark runs.
const benchNestMajor = "11"

// startBenchServer starts the demo server with no rate limit and no
// retries (a trusted, high-volume peer) on a loopback port.
func startBenchServer(tb testing.TB) *rpc.Server {
	tb.Helper()
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, RetryAttempts: -1}, discard())
	demo.Register(srv)
	if err := srv.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv
}

// benchResult is the line bench.mjs prints.
type benchResult struct {
	Requests int     `json:"requests"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	Errors   int     `json:"errors"`
	Nest     string  `json:"nest"`
}

// runBenchScript runs `node bench.mjs` against addr: "sum" [1,2], every
// reply checked against 3.
func runBenchScript(tb testing.TB, node, major, addr string, concurrency, requests, warmup int) benchResult {
	tb.Helper()
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "bench.mjs", "--nest", major, "--port", port,
		"--concurrency", strconv.Itoa(concurrency), "--requests", strconv.Itoa(requests),
		"--warmup", strconv.Itoa(warmup), "--pattern", "sum", "--data", "[1,2]", "--expect", "3")
	cmd.Dir = "nestjs"
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("bench.mjs (nest %s): %v\nstderr:\n%s", major, err, stderr.String())
	}
	var r benchResult
	if err := json.Unmarshal(out, &r); err != nil {
		tb.Fatalf("bench.mjs printed %q, not its JSON line: %v\nstderr:\n%s", out, err, stderr.String())
	}
	if r.Errors != 0 {
		tb.Errorf("bench.mjs (nest %s): %d errors of %d requests\nstderr:\n%s", major, r.Errors, r.Requests, stderr.String())
	}
	return r
}

// TestBenchScriptRuns checks bench.mjs itself: 2000 requests from each
// NestJS major's client, every reply correct.
func TestBenchScriptRuns(t *testing.T) {
	node := requireNode(t)
	srv := startBenchServer(t)
	addr := srv.Addr().String()
	for _, v := range nestMajors {
		t.Run("nest"+v, func(t *testing.T) {
			t.Parallel()
			const n = 2000
			r := runBenchScript(t, node, v, addr, 64, n, 100)
			if r.Requests != n || r.Seconds <= 0 || r.RPS <= 0 || r.Nest == "" {
				t.Errorf("bench.mjs (nest %s) reported %+v", v, r)
			}
			if !strings.HasPrefix(r.Nest, v+".") {
				t.Errorf("bench.mjs --nest %s ran @nestjs/microservices %s", v, r.Nest)
			}
		})
	}
	t.Cleanup(func() {
		// 3 × (100 warm-up + 2000) requests reached the handler.
		if m := srv.GetMetrics(); !t.Failed() && m.Requests < 3*2100 {
			t.Errorf("the server counted %d requests, want at least %d", m.Requests, 3*2100)
		}
	})
}

// BenchmarkParallelCalls: benchConcurrency calls in flight against the Go
// demo server's "sum", from our client (one connection, or a pool of 4)
// and from one NestJS ClientProxy (bench.mjs).
func BenchmarkParallelCalls(b *testing.B) {
	srv := startBenchServer(b)
	addr := srv.Addr().String()
	b.Run("go-client/conn1", func(b *testing.B) { benchGoClient(b, addr) })
	b.Run("go-client/pool4", func(b *testing.B) { benchGoClient(b, addr, rpc.WithPool(4, false)) })
	b.Run("nestjs-client", func(b *testing.B) { benchNestClient(b, addr) })
}

// benchGoClient: b.N calls of "sum" [1,2] from benchConcurrency goroutines
// sharing one rpc.Client.
func benchGoClient(b *testing.B, addr string, opts ...rpc.ClientOption) {
	opts = append([]rpc.ClientOption{rpc.WithClientLogger(discard()), rpc.WithEagerConnect()}, opts...)
	c, err := rpc.NewClient(addr, opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	data := []int{1, 2}
	for range 1000 { // warm up: buffers grown, pool connected
		var out int
		if err := c.Send(ctx, "sum", data, &out); err != nil || out != 3 {
			b.Fatalf("warm-up call: %d, %v", out, err)
		}
	}
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((benchConcurrency + procs - 1) / procs)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var out int
		for pb.Next() {
			if err := c.Send(ctx, "sum", data, &out); err != nil || out != 3 {
				b.Errorf("sum [1,2] = %d, %v", out, err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	if m := c.Metrics(); m.Reconnects != 0 || m.LocalErrors != 0 {
		b.Errorf("client metrics: %d reconnects, %d local errors", m.Reconnects, m.LocalErrors)
	}
}

// benchNestClient: b.N calls of "sum" [1,2] from one NestJS ClientProxy
// (one socket) keeping benchConcurrency in flight. One op is one call, as
// for the Go client; ns/op and req/s are bench.mjs's own clock, so node's
// start-up and warm-up are not counted.
func benchNestClient(b *testing.B, addr string) {
	// Skipped without node, failed without it under CI=true; installs
	// the NestJS packages if they are missing, as the tests do.
	node := requireNode(b)
	const warmup = 2000
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := runBenchScript(b, node, benchNestMajor, addr, benchConcurrency, b.N, warmup)
	runtime.ReadMemStats(&after)
	if r.Requests != b.N {
		b.Fatalf("bench.mjs ran %d requests, asked for %d", r.Requests, b.N)
	}
	b.ReportMetric(r.Seconds*1e9/float64(r.Requests), "ns/op")
	b.ReportMetric(r.RPS, "req/s")
	// The server's allocations, per call, the warm-up calls included.
	calls := float64(b.N + warmup)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/calls, "allocs/op")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/calls, "B/op")
	if r.Seconds >= 1 { // the rounds that measure, not the framework's first guesses
		b.Logf("NestJS %s client: %d requests in %.3fs", r.Nest, r.Requests, r.Seconds)
	}
}
