// Command bench is msgpattern's benchmark suite: it measures the msgpattern
// server against a framing-only "ceiling", a real NestJS 11 TCP server and
// gRPC-go, and behind NATS against a NestJS 11 NATS microservice, each
// target in a process of its own, in one run, and writes
// ../docs/BENCHMARKS.md.
//
//	cd bench && go run .          # the full run, about 10 minutes
//	cd bench && go run . -quick   # a smoke run, well under a minute
//
// See README.md in this folder.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// options are the suite's settings.
type options struct {
	quick         bool
	warmup        time.Duration // per target and shape, not measured
	duration      time.Duration // one measured repetition
	reps          int
	idleConns     int             // connections held open for the memory-at-scale test
	idleWait      time.Duration   // wait before reading RSS with them open
	nest          string          // NestJS major
	nestConc      int             // bench.mjs --concurrency for the end-to-end NestJS row
	e2ePool       int             // our client's pool for the end-to-end row
	e2eGoroutines int             // and its calling goroutines
	only          map[string]bool // sections to run; all when empty
	root          string          // the repository's root
	out           string
	node          string // path of node, "" when NestJS is skipped
	nestSkip      string // why NestJS is skipped
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "server" {
		serverMain(os.Args[2:])
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "load" {
		loadMain(os.Args[2:])
		return
	}
	var o options
	flag.BoolVar(&o.quick, "quick", false, "short durations, for a smoke run")
	flag.DurationVar(&o.duration, "duration", 0, "measured time of one repetition (default 5s, -quick 1s)")
	flag.DurationVar(&o.warmup, "warmup", 0, "warm-up per target and shape (default 1s, -quick 300ms)")
	flag.IntVar(&o.reps, "reps", 2, "repetitions of each measurement; the best is reported")
	flag.IntVar(&o.idleConns, "idle-conns", 0, "connections for the memory-at-scale test (default 10000, -quick 2000)")
	flag.StringVar(&o.nest, "nest", "11", "NestJS major to run (10, 11 or 12)")
	flag.IntVar(&o.nestConc, "nest-concurrency", 1024, "sends in flight from the one NestJS ClientProxy of the end-to-end test")
	flag.IntVar(&o.e2ePool, "e2e-pool", 0, "try one configuration of our rpc.Client in the end-to-end test: its pool (rpc.WithPool)")
	flag.IntVar(&o.e2eGoroutines, "e2e-goroutines", 16*64, "with -e2e-pool: goroutines calling our rpc.Client")
	flag.StringVar(&o.out, "out", "", "report to write (default <repo>/docs/BENCHMARKS.md)")
	only := flag.String("only", "", "run only these sections, comma-separated: load,e2e,mem,calib,nats, or the load section's shapes of a payload: small,4k,order (the report is then partial)")
	flag.Parse()
	if o.duration == 0 {
		o.duration = pick(o.quick, time.Second, 5*time.Second)
	}
	if o.warmup == 0 {
		o.warmup = pick(o.quick, 300*time.Millisecond, time.Second)
	}
	if o.idleConns == 0 {
		o.idleConns = pick(o.quick, 2000, 10000)
	}
	o.idleWait = 2 * time.Second
	if *only != "" {
		o.only = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			s = strings.TrimSpace(s)
			if _, isPayload := payloads[s]; !isPayload && !strings.Contains(",load,e2e,mem,calib,nats,", ","+s+",") {
				fmt.Fprintf(os.Stderr, "bench: -only %q: not one of load, e2e, mem, calib, nats, small, 4k, order\n", s)
				os.Exit(2)
			}
			o.only[s] = true
		}
	}
	o.reps = max(o.reps, 1)

	onSignals()
	code := 0
	if err := run(&o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		code = 1
	}
	killAll()
	os.Exit(code)
}

func (o *options) runs(section string) bool { return o.only == nil || o.only[section] }

// runsShape reports whether the load section's shape sh runs: with the
// section, or with its payload's key (-only order).
func (o *options) runsShape(sh shape) bool { return o.runs("load") || o.only[sh.payload.key] }

func pick[T any](quick bool, q, full T) T {
	if quick {
		return q
	}
	return full
}

func run(o *options) error {
	root, err := findRoot()
	if err != nil {
		return err
	}
	o.root = root
	if o.out == "" {
		o.out = filepath.Join(root, "docs", "BENCHMARKS.md")
	}
	if lim := raiseNoFile(); lim < uint64(o.idleConns)+1000 {
		fmt.Fprintf(os.Stderr, "bench: RLIMIT_NOFILE is %d: fewer idle connections than asked\n", lim)
		o.idleConns = max(100, int(lim)-1000)
	}
	o.node, o.nestSkip = findNest(root, o.nest)
	if o.nestSkip != "" {
		fmt.Fprintln(os.Stderr, "bench: NestJS targets skipped:", o.nestSkip)
	}

	ctx := context.Background()
	started := time.Now()
	rep := &report{opts: o, started: started, machine: describeMachine(o)}
	logf("bench: %s run, %d × %v measured after %v warm-up per target and shape",
		pick(o.quick, "quick", "full"), o.reps, o.duration, o.warmup)

	for _, sh := range shapes {
		if !o.runsShape(sh) {
			continue
		}
		cells, err := runShape(ctx, o, sh)
		if err != nil {
			return err
		}
		rep.shapes = append(rep.shapes, shapeResult{shape: sh, cells: cells})
	}
	if o.runs("e2e") {
		rep.e2e = runE2E(ctx, o, rep)
	}
	if o.runs("mem") {
		rep.mem = runMemScale(ctx, o)
	}
	if o.runs("calib") {
		rep.calib = runCalibration(ctx, o, rep)
	}
	if o.runs("nats") {
		rep.nats = runNATS(ctx, o)
	}
	rep.elapsed = time.Since(started)

	if err := os.WriteFile(o.out, []byte(rep.markdown()), 0o644); err != nil {
		return err
	}
	logf("bench: wrote %s (%v)", o.out, rep.elapsed.Round(time.Second))
	fmt.Print(rep.summary())
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// findRoot walks up from the working directory to the repository's root:
// the folder holding go.mod and interop/nestjs.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "go.mod")) && fileExists(filepath.Join(dir, "interop", "nestjs", "server.mjs")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run me from the repository (cd bench && go run .)")
		}
		dir = parent
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// findNest finds node and the NestJS packages, installing the packages
// (interop/nestjs/install.sh) when they are missing and npm is there.
func findNest(root, major string) (node, skip string) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", "node is not installed"
	}
	dir := filepath.Join(root, "interop", "nestjs")
	if !fileExists(filepath.Join(dir, "v"+major, "node_modules", "@nestjs", "microservices")) {
		logf("bench: installing the NestJS packages (sh interop/nestjs/install.sh)")
		cmd := exec.Command("sh", "install.sh")
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Sprintf("sh interop/nestjs/install.sh failed: %v", err)
		}
	}
	return node, ""
}
