package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/msgpattern/msgpattern/loadtest"
	"github.com/msgpattern/msgpattern/wire"
)

// payload is what every request of a shape carries.
type payload struct {
	key     string // its name for -only: small, 4k, order
	name    string
	pattern []byte                      // the NestJS request's pattern (JSON)
	data    []byte                      // the NestJS request's data
	check   func(response []byte) error // the check of a reply's response
	grpc    *grpcCall                   // the gRPC call
	raw     bool                        // also run msgpattern with the raw handler
	plugged bool                        // also run msgpattern with each plugged decoder (decoders.go)
}

// padLen makes the large payload's data exactly 4096 bytes.
const padLen = 4096 - len(`{"a":1,"b":2,"pad":""}`)

var (
	smallPayload = payload{key: "small", name: "[1,2]", pattern: []byte(`"sum"`), data: []byte(`[1,2]`),
		check: checkThree, grpc: sumCall(&SumRequest{A: 1, B: 2})}
	largePayload = payload{
		key:     "4k",
		name:    "4 KiB",
		pattern: []byte(`"sum"`),
		data:    []byte(`{"a":1,"b":2,"pad":"` + strings.Repeat("x", padLen) + `"}`),
		check:   checkThree,
		grpc:    sumCall(&SumRequest{A: 1, B: 2, Pad: strings.Repeat("x", padLen)}),
		raw:     true,
		plugged: true,
	}
	// orderPayload, the realistic shape, is in order.go.
)

// payloads by their -only and `bench load -payload` names.
var payloads = map[string]payload{"small": smallPayload, "4k": largePayload, "order": orderPayload}

// checkThree checks the response of "sum": 3. It is also the ceiling's
// fixed response, whatever the payload.
func checkThree(response []byte) error {
	if string(response) != "3" {
		return fmt.Errorf("response %s, want 3", response)
	}
	return nil
}

// shape is a load shape: connections × requests in flight on each, and a
// payload.
type shape struct {
	conns, inflight int
	payload         payload
}

func (s shape) load() string { return fmt.Sprintf("%d×%d", s.conns, s.inflight) }
func (s shape) String() string {
	return s.load() + " " + s.payload.name
}

var shapes = []shape{
	{16, 64, smallPayload},
	{16, 64, largePayload},
	{16, 64, orderPayload},
	{1, 1, smallPayload},
	{1, 1, largePayload},
	{1, 1, orderPayload},
}

// Targets.
const (
	tCeiling    = "ceiling"
	tMsgpattern = "msgpattern"
	tNest       = "NestJS"
	tGRPC       = "gRPC-go"
	tMsgRaw     = "msgpattern, raw handler"
	tMsgGoJSON  = "msgpattern + go-json" // Config.Decoder: goccy/go-json (decoders.go)
	tMsgSonic   = "msgpattern + sonic"   // Config.Decoder: bytedance/sonic
)

// targetsFor lists the targets of a shape: the four; for the 4 KiB payload
// msgpattern again with a handler that does not decode the data; for the 4
// KiB payload and the order, msgpattern again with each plugged decoder.
func targetsFor(sh shape) []string {
	ts := []string{tCeiling, tMsgpattern, tNest, tGRPC}
	if sh.payload.raw {
		ts = append(ts, tMsgRaw)
	}
	if sh.payload.plugged {
		for _, p := range pluggedDecoders {
			ts = append(ts, p.target)
		}
	}
	return ts
}

// hasMemStats reports whether a target answers "bench.memstats": the
// msgpattern server, whatever its handler or decoder.
func hasMemStats(target string) bool {
	return target == tMsgpattern || target == tMsgRaw || pluggedByTarget(target) != nil
}

// sample is one measured repetition.
type sample struct {
	rps      float64
	requests uint64
	errors   uint64
	errKinds string
	elapsed  time.Duration
	p50, p99 time.Duration
	cpu      time.Duration // the server process's CPU time during the run
	// The server process's heap allocations during the run (runtime.MemStats
	// Mallocs and TotalAlloc deltas; msgpattern targets only).
	mallocs, allocBytes uint64
	allocsKnown         bool
	// The server's own processing time during the run, and the messages
	// it counts (rpc.Metrics; msgpattern targets only, with allocsKnown).
	processing time.Duration
	handled    uint64
}

// allocsPerReq and bytesPerReq are the server's heap allocations per
// request.
func (s sample) allocsPerReq() float64 { return float64(s.mallocs) / float64(max(s.requests, 1)) }
func (s sample) bytesPerReq() float64  { return float64(s.allocBytes) / float64(max(s.requests, 1)) }

// pathPerReq is the server's processing time per message (µs): from the
// read that completed its frame to the handler's result.
func (s sample) pathPerReq() float64 {
	return float64(s.processing.Nanoseconds()) / 1e3 / float64(max(s.handled, 1))
}

func (s sample) cpuPerReq() float64 { // µs
	if s.requests == 0 {
		return 0
	}
	return float64(s.cpu.Microseconds()) / float64(s.requests)
}

func (s sample) cores() float64 { return s.cpu.Seconds() / s.elapsed.Seconds() }

// cell is one target under one shape.
type cell struct {
	target  string
	detail  string // what exactly ran
	samples []sample
	peakKB  int // VmHWM of the target process at its end
	err     string
}

func (c *cell) targetName() string { return c.target }

// best is the repetition with the highest throughput (at 1×1 that is also
// the one with the lowest mean latency).
func (c *cell) best() (sample, bool) { return bestOf(c.samples) }

// judgeable reports whether a goal may be judged on the cell's best
// sample: the cell exists, it lost no repetition (its process did not
// die), and no repetition saw an error (error replies count in
// requests/s; the row's errors column counts every repetition's).
func (c *cell) judgeable() bool { return c != nil && c.err == "" && clean(c.samples) }

// clean reports whether there are samples and none saw an error.
func clean[S interface{ base() sample }](samples []S) bool {
	for _, s := range samples {
		if s.base().errors != 0 {
			return false
		}
	}
	return len(samples) > 0
}

// base is the sample itself; a natsSample's is the sample it embeds.
func (s sample) base() sample { return s }

// bestOf is the repetition of samples with the highest throughput; false
// when there is none.
func bestOf[S interface{ base() sample }](samples []S) (S, bool) {
	var b S
	for i, s := range samples {
		if i == 0 || s.base().rps > b.base().rps {
			b = s
		}
	}
	return b, len(samples) > 0
}

// ratioOf is f of a's best sample ÷ f of b's; false when either has none or
// f of b's is 0.
func ratioOf[S any](a, b func() (S, bool), f func(S) float64) (float64, bool) {
	sa, oka := a()
	sb, okb := b()
	if !oka || !okb || f(sb) == 0 {
		return 0, false
	}
	return f(sa) / f(sb), true
}

// shapeTitle names a shape in a results heading: "4 connections × 16 in
// flight, payload [1,2]"; unit is what is counted ("connection", "client").
func shapeTitle(sh shape, unit string) string {
	conns := fmt.Sprintf("%d %ss", sh.conns, unit)
	if sh.conns == 1 {
		conns = "1 " + unit
	}
	return fmt.Sprintf("%s × %d in flight, payload %s", conns, sh.inflight, sh.payload.name)
}

// repsAndErrors are a cell's last two table columns: every repetition's
// requests/s, and the errors of all of them (with the kinds the best one
// saw, and the cell's own error).
func repsAndErrors[S interface{ base() sample }](samples []S, best sample, cellErr string) (reps, errCol string) {
	var rs []string
	var errs uint64
	for _, x := range samples {
		rs = append(rs, fmtInt(x.base().rps))
		errs += x.base().errors
	}
	errCol = fmt.Sprint(errs)
	if best.errKinds != "" {
		errCol += " (" + best.errKinds + ")"
	}
	if cellErr != "" {
		errCol += "; " + oneLine(cellErr)
	}
	return strings.Join(rs, ", "), errCol
}

// selfExe is the suite's binary, re-executed as the Go targets.
func selfExe() (string, error) { return os.Executable() }

// startTarget starts the process of a target for a payload.
func startTarget(o *options, name string, p payload) (*child, string, error) {
	exe, err := selfExe()
	if err != nil {
		return nil, "", err
	}
	switch name {
	case tCeiling:
		c, err := startChild(name, o.root, []string{exe, "server", kindCeiling, "--port", "0"})
		return c, "bench server ceiling (internal/loadgen's ceiling loop, reply echoing the id)", err
	case tMsgpattern:
		c, err := startChild(name, o.root, []string{exe, "server", kindMsgpattern, "--port", "0"})
		detail := "bench server msgpattern (rpc.NewServer, RateLimitPerSec -1, RetryAttempts -1, MaxConnections 1<<20)"
		if p.key == orderPayload.key {
			detail += "; \"checkout\": rpc.Typed[Order, Receipt]"
		}
		return c, detail, err
	case tMsgRaw:
		c, err := startChild(name, o.root, []string{exe, "server", kindMsgpatternRaw, "--port", "0"})
		return c, "bench server msgpattern-raw (as msgpattern; \"sum\" finds a and b by a byte search, the pad is never decoded)", err
	case tMsgGoJSON, tMsgSonic:
		pd := pluggedByTarget(name)
		c, err := startChild(name, o.root, []string{exe, "server", pd.kind, "--port", "0"})
		return c, "bench server " + pd.kind + " (as msgpattern; Config.Decoder: " + pd.call + ", " + pd.version() + ")", err
	case tGRPC:
		c, err := startChild(name, o.root, []string{exe, "server", kindGRPC, "--port", "0"})
		return c, "bench server grpc (grpc.NewServer, defaults)", err
	case tNest:
		if o.nestSkip != "" {
			return nil, "", errors.New(o.nestSkip)
		}
		if p.key == orderPayload.key {
			c, err := startChild(name, filepath.Join(o.root, "bench", "nestjs"),
				[]string{o.node, "order-server.mjs", "--nest", o.nest, "--port", "0"})
			return c, "node bench/nestjs/order-server.mjs --nest " + o.nest + " (\"checkout\": total and receipt in JS)", err
		}
		if p.data[0] == '[' {
			c, err := startChild(name, filepath.Join(o.root, "interop", "nestjs"),
				[]string{o.node, "server.mjs", "--nest", o.nest, "--port", "0"})
			return c, "node interop/nestjs/server.mjs --nest " + o.nest, err
		}
		c, err := startChild(name, filepath.Join(o.root, "bench", "nestjs"),
			[]string{o.node, "sum-server.mjs", "--nest", o.nest, "--port", "0"})
		return c, "node bench/nestjs/sum-server.mjs --nest " + o.nest + " (server.mjs's sum, also taking {a,b})", err
	}
	return nil, "", fmt.Errorf("unknown target %q", name)
}

// runShape measures every target under one shape: all target processes
// are started, each is checked and warmed up, then the repetitions run
// interleaved (rep 1 of every target, then rep 2…), so that a slow drift
// of the machine touches every target alike.
func runShape(ctx context.Context, o *options, sh shape) ([]*cell, error) {
	logf("== %s", sh)
	targetOrder := targetsFor(sh)
	cells := make([]*cell, len(targetOrder))
	procs := make([]*child, len(targetOrder))
	defer func() {
		for _, c := range procs {
			if c != nil {
				c.kill()
			}
		}
	}()
	for i, name := range targetOrder {
		cells[i] = &cell{target: name}
		c, detail, err := startTarget(o, name, sh.payload)
		cells[i].detail = detail
		if err != nil {
			cells[i].err = err.Error()
			logf("   %-20s not run: %v", name, err)
			continue
		}
		procs[i] = c
		if name != tGRPC {
			check := sh.payload.check
			if name == tCeiling {
				check = checkThree // its fixed reply
			}
			if err := verify(c.addr, sh.payload.pattern, sh.payload.data, check); err != nil {
				cells[i].err = err.Error()
				logf("   %-20s wrong reply: %v", name, err)
				c.kill()
				procs[i] = nil
				continue
			}
		}
		if _, err := measureOnce(ctx, name, c, sh, o.warmup); err != nil {
			cells[i].err = "warm-up: " + err.Error()
			logf("   %-20s warm-up failed: %v", name, err)
			c.kill()
			procs[i] = nil
		}
	}
	for rep := range o.reps {
		for i, name := range targetOrder {
			c := procs[i]
			if c == nil {
				continue
			}
			s, err := measureOnce(ctx, name, c, sh, o.duration)
			if err != nil && s.requests == 0 {
				cells[i].err = err.Error()
				logf("   %-20s rep %d failed: %v", name, rep+1, err)
				continue
			}
			cells[i].samples = append(cells[i].samples, s)
			logf("   %-20s rep %d: %9.0f req/s  p50 %-9v p99 %-9v cpu %6.2f µs/req (%.2f cores)%s%s",
				name, rep+1, s.rps, s.p50, s.p99, s.cpuPerReq(), s.cores(), allocNote(s), errNote(s))
		}
	}
	for i, c := range procs {
		if c == nil {
			continue
		}
		if kb, err := statusKB(c.pid, "VmHWM"); err == nil {
			cells[i].peakKB = kb
		}
		if !c.alive() {
			cells[i].err = "the process died: " + c.stderr.String()
		}
	}
	return cells, nil
}

func allocNote(s sample) string {
	if !s.allocsKnown {
		return ""
	}
	return fmt.Sprintf("  %.1f allocs, %.0f B /req, processing %.2f µs/req", s.allocsPerReq(), s.bytesPerReq(), s.pathPerReq())
}

func errNote(s sample) string {
	if s.errors == 0 {
		return ""
	}
	return fmt.Sprintf("  ERRORS %d (%s)", s.errors, s.errKinds)
}

// measureOnce runs the load of sh at the target for d and reads the
// server's CPU time around it, and for a msgpattern target its heap
// allocations (memStats).
func measureOnce(ctx context.Context, target string, c *child, sh shape, d time.Duration) (sample, error) {
	var m0 memStats
	var m0err error
	if hasMemStats(target) {
		m0, m0err = c.memStats()
	}
	cpu0, err := cpuTime(c.pid)
	if err != nil {
		return sample{}, err
	}
	var s sample
	var runErr error
	if target == tGRPC {
		var r grpcResult
		r, runErr = runGRPC(ctx, c.addr, sh.conns, sh.inflight, sh.payload.grpc, d)
		s = sample{rps: r.RPS, requests: r.Requests, errors: r.Errors, elapsed: r.Elapsed, p50: r.P50, p99: r.P99}
		if r.Errors > 0 {
			s.errKinds = "grpc"
		}
	} else {
		var r loadtest.Result
		r, runErr = loadtest.Run(ctx, loadtest.Config{
			Addr:         c.addr,
			Connections:  sh.conns,
			InFlight:     sh.inflight,
			Duration:     d,
			Pattern:      sh.payload.pattern,
			Data:         sh.payload.data,
			DrainTimeout: 10 * time.Second,
		})
		s = sample{rps: r.RPS, requests: r.Requests, errors: r.Errors, elapsed: r.Elapsed, p50: r.Latency.P50, p99: r.Latency.P99}
		var kinds []string
		for k, n := range r.ByKind {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		}
		sort.Strings(kinds)
		s.errKinds = strings.Join(kinds, ", ")
		if runErr == nil && r.Requests == 0 {
			runErr = errors.New("no reply at all")
		}
	}
	cpu1, err := cpuTime(c.pid)
	if err != nil {
		return s, err
	}
	s.cpu = cpu1 - cpu0
	if hasMemStats(target) && m0err == nil {
		if m1, err := c.memStats(); err == nil {
			s.mallocs, s.allocBytes, s.allocsKnown = m1.Mallocs-m0.Mallocs, m1.TotalAlloc-m0.TotalAlloc, true
			s.handled = m1.Handled - m0.Handled
			s.processing = time.Duration((m1.ProcessingMs - m0.ProcessingMs) * float64(time.Millisecond))
		}
	}
	return s, runErr
}

// verify sends one request and checks its reply's response.
func verify(addr string, pattern, data []byte, check func([]byte) error) error {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	frame := wire.AppendRequest(nil, wire.NestJS, pattern, data, nil, []byte("7"))
	if _, err := nc.Write(frame); err != nil {
		return err
	}
	body, err := readFrame(nc, make([]byte, 0, 512))
	if err != nil {
		return err
	}
	rep, ok, err := wire.ParseReply(body, 0)
	if err != nil || !ok {
		return fmt.Errorf("bad reply %q", body)
	}
	if string(rep.ID) != "7" || rep.HasError() {
		return fmt.Errorf("reply %s, want a response for id 7", body)
	}
	return check(rep.Response)
}

// readFrame reads one NestJS frame from nc.
func readFrame(nc net.Conn, buf []byte) ([]byte, error) {
	var sc wire.FrameScanner
	buf = buf[:0]
	for {
		if len(buf) > 0 {
			f, err := sc.Scan(buf)
			if err != nil {
				return nil, err
			}
			if f.Len > 0 {
				return f.Body, nil
			}
		}
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), 2*cap(buf)+512)
			copy(nb, buf)
			buf = nb
		}
		n, err := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if n == 0 && err != nil {
			return nil, err
		}
	}
}
