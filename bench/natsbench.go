package main

// The NATS section: the msgpattern server behind NATS (natsrpc) against a
// NestJS NATS microservice (interop/nestjs/nats-server.mjs), through the
// same NATS server process, under the same load from this process.
//
// One NATS server (`bench server nats`: nats-server/v2 embedded, default
// options) runs for the whole section, in a process of its own so that its
// CPU time is measured. The targets take turns: in each repetition, each
// target in turn is started, checked, warmed up, measured and killed, and
// the next one starts only once the NATS server has no subscriber for
// "sum" left. Only one target is ever subscribed: NestJS subscribes without
// a queue group and ours in the queue group "msgpattern", so two at once
// would both answer every request.
//
// The load is natsrpc.Clients in this process: N clients (N NATS
// connections), each with M goroutines calling Send("sum", [1,2]) in a
// loop, every reply checked; each call's latency goes into the suite's
// histogram.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// natsShapes are the NATS section's shapes: clients (NATS connections) ×
// calls in flight on each.
var natsShapes = []shape{
	{16, 64, smallPayload},
	{1, 1, smallPayload},
}

// natsGoal is the throughput msgpattern must reach, as a multiple of
// NestJS's, at 16×64 over NATS.
const natsGoal = 3.0

// natsSaturated is the share of the machine's cores busy above which a
// repetition counts as CPU-bound.
const natsSaturated = 0.9

// natsSample is one measured repetition of a target behind NATS.
type natsSample struct {
	sample                // the target: rate, latency, the target process's CPU
	broker  time.Duration // the NATS server process's CPU time
	loadgen time.Duration // this process's: the clients
	busy    time.Duration // the whole machine's busy CPU time (/proc/stat)
}

func (s natsSample) coresOf(d time.Duration) float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return d.Seconds() / s.elapsed.Seconds()
}

func (s natsSample) perReq(d time.Duration) float64 { // µs
	if s.requests == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(s.requests)
}

// machine is the machine's busy CPU time: /proc/stat's, but never less
// than the three measured processes used. /proc/stat's user and system
// are tick samples (tick CPU accounting, NO_HZ idle), a process's
// utime+stime is scaled to its precise run time: under these loads the
// samples miss short busy spells between idle ones, and /proc/stat reads
// less busy than the target, broker and load generator alone.
func (s natsSample) machine() time.Duration { return max(s.busy, s.cpu+s.broker+s.loadgen) }

// shareOf is d's share of the machine's busy CPU time.
func (s natsSample) shareOf(d time.Duration) float64 {
	if s.machine() <= 0 {
		return 0
	}
	return float64(d) / float64(s.machine())
}

// numCPU is the measuring machine's core count (a variable for tests that
// replay a run saved on another machine).
var numCPU = runtime.NumCPU

// saturated reports whether the machine's cores were (nearly) all busy.
func (s natsSample) saturated() bool {
	return s.coresOf(s.machine()) >= natsSaturated*float64(numCPU())
}

// brokerBound is the suite's rule for "the broker is the limit": the
// machine was saturated and the NATS server used at least as much CPU as
// the target.
func (s natsSample) brokerBound() bool { return s.saturated() && s.broker >= s.cpu }

// zeroCostBound is the rate the repetition could have reached had the
// target cost no CPU at all: the machine's cores, but for what other
// processes used, all spent on the broker and the load generator at their
// cost per request. Meaningful when the machine was saturated.
func (s natsSample) zeroCostBound() float64 {
	rest := s.broker + s.loadgen
	if rest <= 0 {
		return 0
	}
	// All the machine's cores but what other processes used: a saturated
	// repetition may still have left up to a tenth of them idle, which a
	// server costing nothing would leave to the broker and the generator.
	others := max(s.machine()-s.cpu-rest, 0)
	capacity := max(time.Duration(numCPU())*s.elapsed-others, s.cpu+rest)
	return s.rps * float64(capacity) / float64(rest)
}

// natsCell is one target under one NATS shape.
type natsCell struct {
	target  string
	detail  string
	samples []natsSample
	peakKB  int // the largest VmHWM of the target's processes (one per repetition)
	err     string
	skip    bool // not run at all: no further repetitions
}

func (c *natsCell) best() (natsSample, bool) { return bestOf(c.samples) }

type natsShapeResult = shapeCells[*natsCell]

func (c *natsCell) targetName() string { return c.target }

// natsResult is the NATS section of the report.
type natsResult struct {
	broker string // what ran as the NATS server
	shapes []natsShapeResult
	err    string
}

func (r *natsResult) cell(sh shape, target string) *natsCell { return cellIn(r.shapes, sh, target) }

// judgeable is (*cell).judgeable for the NATS section.
func (c *natsCell) judgeable() bool { return c != nil && c.err == "" && clean(c.samples) }

// ratio of two targets' best samples under sh, by f.
func (r *natsResult) ratio(sh shape, a, b string, f func(natsSample) float64) (float64, bool) {
	ca, cb := r.cell(sh, a), r.cell(sh, b)
	if ca == nil || cb == nil {
		return 0, false
	}
	return ratioOf(ca.best, cb.best, f)
}

func runNATS(ctx context.Context, o *options) *natsResult {
	logf("== NATS")
	res := &natsResult{broker: "bench server nats: github.com/nats-io/nats-server/v2 " + modVersion("github.com/nats-io/nats-server/v2") +
		" embedded (`server.NewServer`, default options but `Host: 127.0.0.1`, a free port, no logging)"}
	exe, err := selfExe()
	if err != nil {
		res.err = err.Error()
		return res
	}
	broker, err := startChild("NATS server", o.root, []string{exe, "server", kindNATS, "--port", "0"})
	if err != nil {
		res.err = err.Error()
		logf("   NATS server not started: %v", err)
		return res
	}
	defer broker.kill()
	url := "nats://" + broker.addr
	logf("   NATS server at %s (pid %d)", url, broker.pid)
	for _, sh := range natsShapes {
		res.shapes = append(res.shapes, runNATSShape(ctx, o, broker, url, sh))
		if !broker.alive() {
			res.err = "the NATS server died: " + broker.stderr.String()
			break
		}
	}
	return res
}

// runNATSShape measures both targets under sh, taking turns: repetition 1
// of each, then repetition 2…
func runNATSShape(ctx context.Context, o *options, broker *child, url string, sh shape) natsShapeResult {
	logf("== NATS %s", sh)
	names := []string{tMsgpattern, tNest}
	cells := make([]*natsCell, len(names))
	for i, name := range names {
		cells[i] = &natsCell{target: name}
	}
	for rep := range o.reps {
		for _, c := range cells {
			if c.skip {
				continue
			}
			s, err := natsRep(ctx, o, broker, url, sh, c)
			if err != nil && s.requests == 0 {
				c.err = err.Error()
				logf("   %-10s rep %d failed: %v", c.target, rep+1, err)
				continue
			}
			if err != nil && c.skip && c.err == "" {
				// Measured, but the target died (or cannot go on): keep the
				// sample, and say so — no goal is judged on a cell whose
				// later repetitions were skipped, as in the TCP section.
				c.err = fmt.Sprintf("rep %d: %v", rep+1, err)
			}
			c.samples = append(c.samples, s)
			logf("   %-10s rep %d: %9.0f req/s  p50 %-9v p99 %-9v target %6.2f µs/req (%.2f cores), NATS server %6.2f µs/req (%.2f cores, %2.0f%% of busy CPU), load %.2f cores, machine %.2f cores busy%s",
				c.target, rep+1, s.rps, s.p50, s.p99, s.cpuPerReq(), s.cores(), s.perReq(s.broker), s.coresOf(s.broker),
				100*s.shareOf(s.broker), s.coresOf(s.loadgen), s.coresOf(s.machine()), errNote(s.sample))
		}
	}
	return natsShapeResult{shape: sh, cells: cells}
}

// natsRep runs one repetition of one target: start, check, warm up,
// measure, kill. An error that makes further repetitions pointless (the
// target cannot start, answers wrongly) sets c.skip.
func natsRep(ctx context.Context, o *options, broker *child, url string, sh shape, c *natsCell) (natsSample, error) {
	if err := waitNoResponders(ctx, url); err != nil {
		c.skip = true
		return natsSample{}, err
	}
	p, detail, err := startNATSTarget(o, c.target, url)
	c.detail = detail
	if err != nil {
		c.skip = true
		return natsSample{}, err
	}
	defer p.kill()
	if err := natsVerify(ctx, url); err != nil {
		c.skip = true
		return natsSample{}, fmt.Errorf("wrong reply: %w", err)
	}
	if _, err := measureNATS(ctx, broker, p, url, sh, o.warmup); err != nil {
		c.skip = true
		return natsSample{}, fmt.Errorf("warm-up: %w", err)
	}
	s, err := measureNATS(ctx, broker, p, url, sh, o.duration)
	if kb, kerr := statusKB(p.pid, "VmHWM"); kerr == nil {
		c.peakKB = max(c.peakKB, kb)
	}
	if !p.alive() {
		c.skip = true
		return s, errors.New("the process died: " + p.stderr.String())
	}
	return s, err
}

// startNATSTarget starts a target serving "sum" through the NATS server
// at url.
func startNATSTarget(o *options, name, url string) (*child, string, error) {
	switch name {
	case tMsgpattern:
		exe, err := selfExe()
		if err != nil {
			return nil, "", err
		}
		c, err := startChild(name, o.root, []string{exe, "server", kindMsgpatternNATS, "--nats", url})
		return c, fmt.Sprintf("bench server msgpattern-nats --nats URL: the msgpattern target's rpc.Server and \"sum\", no TCP listener, served by `natsrpc.Connect(srv, url)` with its defaults (queue group %q, at most Config.MaxHandlers = %d messages served at once)",
			natsrpc.DefaultQueueGroup, rpc.DefaultMaxHandlers), err
	case tNest:
		detail := "node interop/nestjs/nats-server.mjs --nest " + o.nest + " --url URL"
		if o.nestSkip != "" {
			return nil, detail, errors.New(o.nestSkip)
		}
		dir := filepath.Join(o.root, "interop", "nestjs")
		if !fileExists(filepath.Join(dir, "nats-server.mjs")) {
			return nil, detail, errors.New("interop/nestjs/nats-server.mjs not found")
		}
		pkg := natsJSPackage(o.nest)
		if pkg == "" {
			return nil, detail, fmt.Errorf("NestJS %s has no NATS client pinned in interop/nestjs/v%s (use -nest 11 or 12)", o.nest, o.nest)
		}
		if !fileExists(filepath.Join(dir, "v"+o.nest, "node_modules", pkg)) {
			return nil, detail, fmt.Errorf("npm package %s missing from interop/nestjs/v%s/node_modules: run sh interop/nestjs/install.sh", pkg, o.nest)
		}
		detail = fmt.Sprintf("%s: Transport.NATS (npm %s %s), no queue group (NestJS's default), demo.mjs's `sum` (`data.reduce`)",
			detail, pkg, npmVersion(o.root, o.nest, pkg))
		c, err := startChild(name, dir, []string{o.node, "nats-server.mjs", "--nest", o.nest, "--url", url})
		return c, detail, err
	}
	return nil, "", fmt.Errorf("unknown NATS target %q", name)
}

// natsJSPackage is the NATS client package pinned for a NestJS major
// (interop/nestjs/v<major>/package.json), "" when none is.
func natsJSPackage(major string) string {
	return map[string]string{"11": "nats", "12": "@nats-io/transport-node"}[major]
}

var sumData = json.RawMessage(`[1,2]`)

// waitNoResponders waits (up to 10 s) until nobody serves "sum" on the
// NATS server: the previous target's subscriptions are gone.
func waitNoResponders(ctx context.Context, url string) error {
	c, err := natsrpc.Dial(url)
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := c.Send(cctx, "sum", sumData, nil)
		cancel()
		if errors.Is(err, rpc.ErrNoHandler) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("something still answers \"sum\" on the NATS server after 10s (last: %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// natsVerify calls "sum" [1,2] once and checks the reply is 3.
func natsVerify(ctx context.Context, url string) error {
	c, err := natsrpc.Dial(url)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var out json.RawMessage
	if err := c.Send(ctx, "sum", sumData, &out); err != nil {
		return err
	}
	if string(out) != "3" {
		return fmt.Errorf("reply %s, want 3", out)
	}
	return nil
}

// natsLoadResult is one run of natsLoad.
type natsLoadResult struct {
	requests, errors uint64 // replies checked good; failed calls
	elapsed          time.Duration
	p50, p99         time.Duration
	firstErr         error
}

// measureNATS dials sh.conns clients, runs the load for d, and reads the
// CPU time of the target, the NATS server, this process and the machine
// around the load (the dialling is outside).
func measureNATS(ctx context.Context, broker, target *child, url string, sh shape, d time.Duration) (natsSample, error) {
	clients := make([]*natsrpc.Client, sh.conns)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range clients {
		c, err := natsrpc.Dial(url, natsrpc.WithCallTimeout(10*time.Second))
		if err != nil {
			return natsSample{}, err
		}
		clients[i] = c
	}
	type reading struct{ target, broker, self, busy time.Duration }
	read := func() (r reading, err error) {
		var errs [4]error
		r.target, errs[0] = cpuTime(target.pid)
		r.broker, errs[1] = cpuTime(broker.pid)
		r.self, errs[2] = cpuTime(os.Getpid())
		r.busy, errs[3] = machineBusy()
		return r, errors.Join(errs[:]...)
	}
	r0, err := read()
	if err != nil {
		return natsSample{}, err
	}
	lr := natsLoad(ctx, clients, sh.inflight, d)
	r1, err := read()
	if err != nil {
		return natsSample{}, err
	}
	s := natsSample{
		sample: sample{requests: lr.requests, errors: lr.errors, elapsed: lr.elapsed, p50: lr.p50, p99: lr.p99,
			cpu: r1.target - r0.target},
		broker:  r1.broker - r0.broker,
		loadgen: r1.self - r0.self,
		busy:    r1.busy - r0.busy,
	}
	if lr.elapsed > 0 {
		s.rps = float64(lr.requests) / lr.elapsed.Seconds()
	}
	if lr.errors > 0 {
		s.errKinds = oneLine(lr.firstErr.Error())
	}
	switch {
	case lr.firstErr != nil:
		return s, fmt.Errorf("%d errors, first: %w", lr.errors, lr.firstErr)
	case lr.requests == 0:
		return s, errors.New("no reply at all")
	}
	return s, ctx.Err()
}

// natsLoad keeps inflight calls of "sum" [1,2] going on each client for d:
// a goroutine per call in flight, each calling again as soon as its call
// returns. Every reply is checked; only good replies are counted and
// timed.
func natsLoad(ctx context.Context, clients []*natsrpc.Client, inflight int, d time.Duration) natsLoadResult {
	lr := closedLoop(ctx, len(clients)*inflight, d, false, func(i int) func() error {
		c := clients[i/inflight]
		var out json.RawMessage
		return func() error {
			// Send leaves out alone when a reply carries no value: the
			// previous call's 3 must not pass for this one's.
			out = out[:0]
			err := c.Send(ctx, "sum", sumData, &out) // the client's 10 s deadline
			if err == nil && string(out) != "3" {
				err = fmt.Errorf("reply %s, want 3", out)
			}
			return err
		}
	})
	return natsLoadResult{requests: lr.total.n, errors: lr.errors, elapsed: lr.elapsed,
		p50: lr.total.quantile(0.50), p99: lr.total.quantile(0.99), firstErr: lr.firstErr}
}

// machineBusy is the CPU time all cores have spent not idle (/proc/stat:
// user, nice, system, irq, softirq, steal; not idle, not iowait).
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("malformed /proc/stat")
	}
	var busy uint64
	for i, x := range f[1:9] { // user nice system idle iowait irq softirq steal
		v, err := strconv.ParseUint(x, 10, 64)
		if err != nil {
			return 0, errors.New("malformed /proc/stat")
		}
		if i != 3 && i != 4 {
			busy += v
		}
	}
	return time.Duration(busy) * time.Second / clockTicks, nil
}

// ---- report -------------------------------------------------------------------

// natsGoals are the NATS section's lines of the goals table.
func (r *report) natsGoals() []goal {
	if r.nats == nil {
		return nil
	}
	sh := natsShapes[0]
	x, ok := r.nats.ratio(sh, tMsgpattern, tNest, func(s natsSample) float64 { return s.rps })
	judged := ok && r.nats.cell(sh, tMsgpattern).judgeable() && r.nats.cell(sh, tNest).judgeable()
	v := verdict(x >= natsGoal, judged)
	var share goal
	share.what = "NATS " + sh.String() + ": the NATS server's CPU, in msgpattern's repetition"
	share.want = "is the broker the limit?"
	share.measured, share.verdict = "–", "NOT MEASURED"
	if c := r.nats.cell(sh, tMsgpattern); c != nil {
		if s, ok := c.best(); ok {
			share.measured = fmt.Sprintf("%.2f cores, %.0f%% of the busy CPU (%.2f µs/req); machine %.2f of %d cores busy",
				s.coresOf(s.broker), 100*s.shareOf(s.broker), s.perReq(s.broker), s.coresOf(s.machine()), runtime.NumCPU())
			share.verdict = "broker not the limit"
			if s.brokerBound() {
				share.verdict = "broker the limit"
				if judged && x < natsGoal { // a shortfall measured, not a row not judged
					v += " (broker-bound)"
				}
			}
		}
	}
	bound := goal{what: "NATS " + sh.String() + ": the most any server could show here (one costing no CPU) ÷ NestJS",
		measured: "–", want: "≥ 3× for the goal to be reachable", verdict: "NOT MEASURED"}
	if b, ok := r.nats.zeroCostRatio(); ok {
		bound.measured = fmtRatioVs(b, natsGoal)
		bound.verdict = "3× reachable"
		if b < natsGoal {
			bound.verdict = "3× out of reach"
		}
	}
	return []goal{
		{"NATS " + sh.String() + ": msgpattern ÷ NestJS, throughput, same NATS server", fmtRatioVs(x, natsGoal), "≥ 3×", v},
		share,
		bound,
	}
}

// zeroCostRatio is msgpattern's zero-cost bound at 16×64 ÷ NestJS's rate,
// when msgpattern's best repetition saturated the machine and both
// targets may be judged (judgeable: no errors, no repetition lost), as
// for the throughput goal.
func (n *natsResult) zeroCostRatio() (float64, bool) {
	sh := natsShapes[0]
	ours, nest := n.cell(sh, tMsgpattern), n.cell(sh, tNest)
	if !ours.judgeable() || !nest.judgeable() {
		return 0, false
	}
	s, ok1 := ours.best()
	ns, ok2 := nest.best()
	if !ok1 || !ok2 || !s.saturated() || ns.rps == 0 || s.zeroCostBound() == 0 {
		return 0, false
	}
	return s.zeroCostBound() / ns.rps, true
}

// natsMarkdown writes the NATS section.
func (r *report) natsMarkdown(w func(string, ...any)) {
	w("## NATS")
	w("")
	n := r.nats
	if n == nil {
		w("Not run (`-only` without `nats`).")
		w("")
		return
	}
	w("The msgpattern server behind NATS (`natsrpc`) against a NestJS NATS microservice, through **the same NATS server process**, under the same load, in the same run.")
	w("")
	w("- **NATS server**: %s, a process of its own, so its CPU time is measured; one for the whole section.", n.broker)
	if len(n.shapes) > 0 { // the targets are the same in every shape
		for _, c := range n.shapes[0].cells {
			if c.detail != "" {
				w("- **%s**: %s.", c.target, c.detail)
			}
		}
	}
	w("- **Load**, from the suite's process: N `natsrpc.Client`s (`natsrpc.Dial`: N NATS connections), each with M goroutines calling `Send(ctx, \"sum\", json.RawMessage(`[1,2]`), &out)` in a loop (10 s deadline, `natsrpc.WithCallTimeout`), every reply checked to be 3; latency timed around `Send`, into the suite's histogram. Each request is two NATS messages through the broker: the request, and the reply to the client's inbox.")
	w("- **Procedure**: the targets take turns, never subscribed at once (NestJS subscribes without a queue group, ours in one: both would answer every request). In each of %d repetitions, each target in turn is started, checked (one `sum`), warmed up for %v, measured for %v and killed; the next starts once the NATS server answers \"no responders\" for `sum`. Reported: the repetition with the higher throughput.", r.opts.reps, r.opts.warmup, r.opts.duration)
	w("- **CPU**, each over the repetition (`/proc/<pid>/stat`, `/proc/stat`): the target process's, ÷ requests (µs/req) and ÷ wall time (cores); the NATS server process's, likewise, and its **share of the machine's busy CPU**; the load generator's (the suite process: the clients); and the machine's busy cores (all processes, of %d).", runtime.NumCPU())
	if n.err != "" {
		w("")
		w("**Not complete**: %s", oneLine(n.err))
	}
	for _, s := range n.shapes {
		w("")
		w("### NATS: %s", shapeTitle(s.shape, "client"))
		w("")
		w("| target | requests/s | p50 | p99 | target CPU µs/req | target CPU (cores) | NATS server CPU µs/req | NATS server CPU (cores) | NATS server share of busy CPU | load generator CPU (cores) | machine busy (cores) | target peak RSS | reps (requests/s) | errors |")
		w("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|")
		for _, c := range s.cells {
			best, ok := c.best()
			if !ok {
				w("| %s | not run: %s | | | | | | | | | | | | |", c.target, oneLine(c.err))
				continue
			}
			reps, errCol := repsAndErrors(c.samples, best.sample, c.err)
			w("| %s | %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %.0f%% | %.2f | %.2f | %.1f MiB | %s | %s |",
				c.target, fmtInt(best.rps), fmtDur(best.p50), fmtDur(best.p99), best.cpuPerReq(), best.cores(),
				best.perReq(best.broker), best.coresOf(best.broker), 100*best.shareOf(best.broker),
				best.coresOf(best.loadgen), best.coresOf(best.machine()), float64(c.peakKB)/1024, reps, errCol)
		}
	}
	w("")
	w("### NATS: ratios")
	w("")
	w("| shape | msgpattern ÷ NestJS (throughput) | p50 ÷ NestJS p50 | target CPU µs/req ÷ NestJS's | NATS server CPU µs/req, msgpattern's ÷ NestJS's |")
	w("|---|--:|--:|--:|--:|")
	for _, s := range n.shapes {
		t, _ := n.ratio(s.shape, tMsgpattern, tNest, func(s natsSample) float64 { return s.rps })
		p, _ := n.ratio(s.shape, tMsgpattern, tNest, func(s natsSample) float64 { return float64(s.p50) })
		c, _ := n.ratio(s.shape, tMsgpattern, tNest, func(s natsSample) float64 { return s.cpuPerReq() })
		b, _ := n.ratio(s.shape, tMsgpattern, tNest, func(s natsSample) float64 { return s.perReq(s.broker) })
		w("| %s | %s | %s | %s | %s |", s.shape, fmtRatio(t), fmtRatio(p), fmtRatio(c), fmtRatio(b))
	}
	w("")
	w("### NATS: is the broker the limit?")
	w("")
	for _, line := range r.natsNote() {
		w("%s", line)
	}
	w("")
}

// natsNote reads the 16×64 rows: where the CPU went, and whether the
// broker is what limits our server's rate.
func (r *report) natsNote() []string {
	n := r.nats
	sh := natsShapes[0]
	ours, nest := n.cell(sh, tMsgpattern), n.cell(sh, tNest)
	if ours == nil {
		return []string{"Not measured."}
	}
	s, ok := ours.best()
	if !ok {
		return []string{"Not measured: msgpattern did not run."}
	}
	cores := runtime.NumCPU()
	other := s.machine() - s.cpu - s.broker - s.loadgen
	out := []string{
		fmt.Sprintf("The rule: the broker is the limit when, in msgpattern's best %s repetition, the machine is saturated (≥ %.0f%% of its %d cores busy) and the NATS server used at least as much CPU as our server.", sh.load(), 100*natsSaturated, cores),
		"",
		fmt.Sprintf("- In msgpattern's best %s repetition the machine had **%.2f of %d cores busy**: our server %.2f cores (%.0f%%), the **NATS server %.2f cores (%.0f%%)**, the load generator %.2f cores (%.0f%%), other processes %.2f cores (%.0f%%).",
			sh.load(), s.coresOf(s.machine()), cores, s.cores(), 100*s.shareOf(s.cpu), s.coresOf(s.broker), 100*s.shareOf(s.broker),
			s.coresOf(s.loadgen), 100*s.shareOf(s.loadgen), s.coresOf(max(other, 0)), 100*s.shareOf(max(other, 0))),
		fmt.Sprintf("- Per request: our server %.2f µs of CPU, the NATS server %.2f µs (two messages routed: request and reply), the load generator %.2f µs.",
			s.cpuPerReq(), s.perReq(s.broker), s.perReq(s.loadgen)),
	}
	var ns natsSample
	if nest != nil {
		ns, ok = nest.best()
	}
	if nest != nil && ok {
		out = append(out, fmt.Sprintf("- In NestJS's best repetition: NestJS %.2f cores (%.2f µs/req; node runs its JavaScript on one thread), the NATS server %.2f cores (%.2f µs/req, %.0f%% of the busy CPU), the machine %.2f of %d cores busy.",
			ns.cores(), ns.cpuPerReq(), ns.coresOf(ns.broker), ns.perReq(ns.broker), 100*ns.shareOf(ns.broker), ns.coresOf(ns.machine()), cores))
		if b, ok := n.zeroCostRatio(); ok {
			out = append(out, fmt.Sprintf("- Had our server cost no CPU at all, the machine's cores (but for what other processes used), all spent on the broker and the load generator at their cost per request, would have carried at most about %s requests/s: **%s NestJS's rate**, the most any server behind this broker could show against NestJS on this machine with this load generator.",
				fmtInt(s.zeroCostBound()), fmtRatio(b)))
		}
	}
	if b, ok := n.zeroCostRatio(); ok && b < natsGoal {
		out = append(out, "", fmt.Sprintf("**%s is out of reach on this machine for any server**: one costing nothing would show %s NestJS; of the CPU left per request, the NATS server takes %.2f µs and the load generator %.2f µs.",
			fmt.Sprintf("%g×", natsGoal), fmtRatio(b), s.perReq(s.broker), s.perReq(s.loadgen)))
	}
	switch {
	case s.brokerBound():
		out = append(out, "", fmt.Sprintf("**The broker is the limit**: the machine was saturated and the NATS server took %.0f%% of the busy CPU against our server's %.0f%%.", 100*s.shareOf(s.broker), 100*s.shareOf(s.cpu)))
	case !s.saturated():
		out = append(out, "", "**The broker is not the limit by the rule**: the machine was not saturated (the latency of the hops, not CPU, bounds the rate).")
	default:
		out = append(out, "", fmt.Sprintf("**The broker is not the limit by the rule**: the machine was saturated, but our server used more CPU (%.0f%%) than the NATS server (%.0f%%).", 100*s.shareOf(s.cpu), 100*s.shareOf(s.broker)))
	}
	return out
}

// modVersion is the version of a module this binary was built with.
func modVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "unknown"
}
