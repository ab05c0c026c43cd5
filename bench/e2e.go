package main

// End to end: a client and a server, both real. Our rpc.Client against our
// server (both Go; the client runs in this process, the server in a child),
// and a NestJS ClientProxy (interop/nestjs/bench.mjs) against a NestJS server
// (interop/nestjs/server.mjs), "sum" [1,2] with every reply checked.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// e2eRow is one client/server pair.
type e2eRow struct {
	name   string
	config string
	rps    []float64 // per repetition
	errors uint64
	err    string
}

func (r *e2eRow) best() float64 {
	b := 0.0
	for _, x := range r.rps {
		b = max(b, x)
	}
	return b
}

// goClientConfig is one configuration of our client in the end-to-end test.
type goClientConfig struct {
	pool, goroutines int
	why              string
}

func runE2E(ctx context.Context, o *options, rep *report) []*e2eRow {
	logf("== end to end")
	configs := []goClientConfig{
		{1, 1024, "one connection, like the NestJS client's one socket: the fastest of the pools of 1, 2, 4 and 16 connections (64 to 1024 goroutines) tried when the suite was written"},
		{16, 1024, "matched to the 16×64 shape"},
	}
	if o.e2ePool > 0 { // -e2e-pool/-e2e-goroutines: one configuration, to try others
		configs = []goClientConfig{{o.e2ePool, o.e2eGoroutines, "given on the command line"}}
	}
	var rows []*e2eRow
	var ours []*e2eRow
	for _, c := range configs {
		r := &e2eRow{name: fmt.Sprintf("msgpattern rpc.Client (pool %d) → msgpattern server", c.pool),
			config: fmt.Sprintf("rpc.NewClient(addr, rpc.WithPool(%d, false), rpc.WithEagerConnect()); %d goroutines, each making one Send(ctx, \"sum\", []float64{1, 2}, &out) at a time; %s", c.pool, c.goroutines, c.why)}
		rows = append(rows, r)
		ours = append(ours, r)
	}
	nest := &e2eRow{name: "NestJS ClientProxy → NestJS server",
		config: fmt.Sprintf("node interop/nestjs/bench.mjs --nest %s --concurrency %d (one ClientProxy, one socket; its own clock, after %v of warm-up requests in the same process) → node interop/nestjs/server.mjs --nest %s (warmed up by loadtest first)", o.nest, o.nestConc, o.warmup, o.nest)}
	rows = append(rows, nest)

	srv, _, err := startTarget(o, tMsgpattern, smallPayload)
	if err != nil {
		for _, r := range ours {
			r.err = err.Error()
		}
	} else {
		defer srv.kill()
		for _, c := range configs {
			e2eGo(ctx, c, srv.addr, o.warmup) // warm-up
		}
	}
	var nestSrv *child
	if o.nestSkip != "" {
		nest.err = o.nestSkip
	} else if nestSrv, _, err = startTarget(o, tNest, smallPayload); err != nil {
		nest.err = err.Error()
	} else {
		defer nestSrv.kill()
		measureOnce(ctx, tNest, nestSrv, shapes[0], o.warmup) // warm the server's JIT
	}
	// A first guess at the NestJS pair's rate, to size bench.mjs's request
	// count (it runs a count, not a duration); corrected after each run.
	guess := 40000.0
	if r := rep.cell(shapes[0], tNest); r != nil {
		if s, ok := r.best(); ok {
			guess = s.rps / 2
		}
	}
	for i := range o.reps {
		for j, r := range ours {
			if r.err != "" {
				continue
			}
			rps, errs, err := e2eGo(ctx, configs[j], srv.addr, o.duration)
			if err != nil {
				r.err = err.Error()
				continue
			}
			r.rps = append(r.rps, rps)
			r.errors += errs
			logf("   msgpattern pool %-2d rep %d: %9.0f req/s", configs[j].pool, i+1, rps)
		}
		if nest.err == "" {
			n := max(1000, int(guess*o.duration.Seconds()))
			warm := max(1000, int(guess*o.warmup.Seconds()))
			rps, errs, err := e2eNest(o, nestSrv.addr, n, warm)
			if err != nil {
				nest.err = err.Error()
			} else {
				nest.rps = append(nest.rps, rps)
				nest.errors += errs
				guess = rps
				logf("   NestJS pair        rep %d: %9.0f req/s (%d requests)", i+1, rps, n)
			}
		}
	}
	return rows
}

// e2eGo runs our client against addr for d.
func e2eGo(ctx context.Context, cfg goClientConfig, addr string, d time.Duration) (rps float64, errs uint64, err error) {
	c, err := rpc.NewClient(addr, rpc.WithPool(cfg.pool, false), rpc.WithEagerConnect(),
		rpc.WithClientLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	var stop atomic.Bool
	var done, bad atomic.Uint64
	// The first error; an atomic.Value would panic on a second error of
	// another concrete type, even in a CompareAndSwap that fails.
	var errMu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	data := []float64{1, 2}
	start := time.Now()
	for range cfg.goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n uint64
			for !stop.Load() {
				var out float64
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := c.Send(cctx, "sum", data, &out)
				cancel()
				if err == nil && out != 3 {
					err = fmt.Errorf("sum: %v, want 3", out)
				}
				if err != nil {
					bad.Add(1)
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
				}
				n++
			}
			done.Add(n)
		}()
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil { // every goroutine is done
		err = fmt.Errorf("%d errors, first: %w", bad.Load(), firstErr)
	}
	return float64(done.Load()) / elapsed.Seconds(), bad.Load(), err
}

// benchMJS is the JSON line bench.mjs prints.
type benchMJS struct {
	Requests int     `json:"requests"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	Errors   uint64  `json:"errors"`
	Nest     string  `json:"nest"`
}

// e2eNest runs bench.mjs: n requests after warm warm-up requests; the rate
// is its own (from the first timed send to the last reply).
func e2eNest(o *options, addr string, n, warm int) (float64, uint64, error) {
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.node, "bench.mjs", "--nest", o.nest, "--port", port,
		"--concurrency", strconv.Itoa(o.nestConc), "--requests", strconv.Itoa(n),
		"--warmup", strconv.Itoa(warm), "--pattern", "sum", "--data", "[1,2]", "--expect", "3")
	cmd.Dir = filepath.Join(o.root, "interop", "nestjs")
	cmd.SysProcAttr = deathSig()
	stderr := &tailBuffer{max: 8 << 10}
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("bench.mjs: %v: %s", err, stderr.String())
	}
	var r benchMJS
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, 0, fmt.Errorf("bench.mjs printed %q: %v", out, err)
	}
	if r.Errors > 0 {
		return r.RPS, r.Errors, fmt.Errorf("bench.mjs: %d errors: %s", r.Errors, stderr.String())
	}
	return r.RPS, 0, nil
}
