package main

import (
	"context"
	"crypto/tls"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/msgpattern/msgpattern/loadtest"
	"github.com/msgpattern/msgpattern/pattern"
	"github.com/msgpattern/msgpattern/rpc"
	"github.com/msgpattern/msgpattern/wire"
)

const benchUsage = `Usage: msgpattern bench [flags] PATTERN [DATA]

Load-tests PATTERN on any NestJS-compatible TCP server: -c connections,
each keeping -p requests in flight (pipelined; -c × -p at most 1048576),
for -n requests or -d
duration, optionally paced at --rate requests per second in all. Then
prints a summary in the manner of ghz and 'nats bench': counts, errors by
kind, requests per second, latency percentiles and a histogram.

A request without its reply after --timeout counts as an error
(deadline_exceeded), and its place goes to the next request.

With --nats URL the load goes over NATS instead (NestJS's NATS wire, to
whatever serves PATTERN there, e.g. instances in a queue group): -c NATS
connections, each with -p calls in flight (goroutines calling one after
the other).

With --tls, --cacert, --cert or --insecure the connections are TLS (to the
NATS server with --nats).

With OTEL_TRACES_EXPORTER (otlp, console) or OTEL_EXPORTER_OTLP_ENDPOINT
set, every request is an OpenTelemetry client span whose traceparent goes
in its metadata (the console exporter writes them on stderr). Over TCP the
requests then go through the rpc client, -c connections with -p calls in
flight, instead of raw pipelined frames, which carry no metadata: the
numbers include the tracing's cost (bench says so on stderr), compare them
with traced runs only, and sample a long run with
OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG=0.01. See
'msgpattern help serve' for the variables.

Exit status: 0 the run completed, with at most --max-error-rate of its
requests failed; 1 more failed (the summary is printed all the same); 2
usage error, or no connection; 130 interrupted (SIGINT), 143 terminated
(SIGTERM), after the summary of what was measured.

Examples:
  msgpattern bench -c 16 -p 64 -n 1000000 sum '[1,2]'
  msgpattern bench -c 4 -d 30s --rate 5000 --json '{"cmd":"get"}' '{"id":7}'
  msgpattern bench -n 1000 --max-error-rate 0.01 --timeout 2s user.get '{"id":7}'
  msgpattern bench --nats nats://127.0.0.1:4222 -c 4 -p 64 -d 5s sum '[1,2]'
`

// benchCommand is `msgpattern bench`.
type benchCommand struct {
	addr         string
	nats         string // load over the NATS server at this URL instead of addr
	conns        int
	inflight     int
	requests     int
	duration     time.Duration
	rate         float64
	warmup       time.Duration
	timeout      time.Duration
	maxErrorRate float64
	asJSON       bool
	asCSV        bool
	tls          clientTLS
	tlsCfg       *tls.Config
	tracing      *tracing // nil: off

	pattern json.RawMessage // as sent
	route   string          // its route key, for the CSV
	data    json.RawMessage
}

// target names where the load goes: the TCP address, or the NATS URL.
func (c *benchCommand) target() string {
	if c.nats != "" {
		return c.nats
	}
	return c.addr
}

func bench(args []string) int {
	var c benchCommand
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", defaultAddr(), "server address host:port; the default is $MSGPATTERN_ADDR, else localhost:4061")
	fs.StringVar(&c.nats, "nats", "", "load over the NATS server at this `URL` (nats://host:port) instead of --addr")
	intAtLeast(fs, &c.conns, "c", 1, 1, "connections (NATS connections with --nats)")
	intAtLeast(fs, &c.inflight, "p", 1, 1, "requests in flight on each connection")
	intAtLeast(fs, &c.requests, "n", 0, 0, "requests to measure (default 10000 unless -d is given)")
	nonNegativeDuration(fs, &c.duration, "d", 0, "measure for this long instead of -n")
	floatBetween(fs, &c.rate, "rate", 0, 0, math.Inf(1), "requests per second in all; 0 for as fast as the server answers")
	nonNegativeDuration(fs, &c.warmup, "warmup", 0, "unmeasured load before the run")
	nonNegativeDuration(fs, &c.timeout, "timeout", defaultTimeout, "a request without its reply after this long counts as an error (deadline_exceeded); 0 for no limit")
	floatBetween(fs, &c.maxErrorRate, "max-error-rate", 0, 0, 1, "exit 1 when more than this share of the requests failed, e.g. 0.01 for 1%; 0, the default: when any did")
	fs.BoolVar(&c.asJSON, "json", false, "print the summary as JSON")
	fs.BoolVar(&c.asCSV, "csv", false, "print the summary as CSV")
	c.tls.bind(fs)
	setUsage(fs, benchUsage)
	pos, code, ok := parseCommand(fs, args, "PATTERN [DATA]", 1, 2)
	if !ok {
		return code
	}
	if c.conns > loadtest.MaxInFlight/c.inflight {
		return usageErrorf("bench", "-c %d × -p %d is over %d requests in flight, the most bench runs", c.conns, c.inflight, loadtest.MaxInFlight)
	}
	if c.requests > 0 && c.duration > 0 {
		return usageErrorf("bench", "give -n or -d, not both")
	}
	if c.requests <= 0 && c.duration <= 0 {
		c.requests = 10000
	}
	if c.asJSON && c.asCSV {
		return usageErrorf("bench", "give --json or --csv, not both")
	}
	var err error
	if c.tlsCfg, err = c.tls.config(); err != nil {
		return usageErrorf("bench", "%v", err)
	}
	p, err := parsePattern(pos[0])
	if err != nil {
		return usageError(err)
	}
	if c.pattern, err = wire.AppendJSON(nil, p); err != nil {
		return usageError(err)
	}
	if c.route, err = pattern.Of(p); err != nil {
		return usageError(err)
	}
	if c.data, err = parseData(pos[1:], os.Stdin); err != nil {
		return usageError(err)
	}
	ctx, _, stop := notifySignals()
	defer stop()
	c.tracing = startTracing(os.Stderr, warnStderr) // otel.go
	defer c.tracing.shutdown()
	return c.run(ctx, os.Stdout, os.Stderr)
}

func (c *benchCommand) run(ctx context.Context, stdout, stderr io.Writer) int {
	terminal := isTerminal(stderr)
	cfg := loadtest.Config{
		Addr: c.addr, TLS: c.tlsCfg, Connections: c.conns, InFlight: c.inflight,
		Requests: c.requests, Duration: c.duration, Rate: c.rate, Warmup: c.warmup, Timeout: c.timeout,
		Pattern: c.pattern, Data: c.data,
		Progress: func(p loadtest.Progress) { progress(stderr, p, terminal, c.requests) },
	}
	if terminal {
		cfg.ProgressEvery = 200 * time.Millisecond
	}
	var (
		res loadtest.Result
		err error
	)
	switch {
	case c.nats != "":
		res, err = runNATS(ctx, c.nats, c.tlsCfg, cfg, c.tracing)
	case c.tracing != nil:
		// loadtest.Run writes raw frames, without metadata: traced, each
		// request is a call through an rpc.Client instead.
		fmt.Fprintln(stderr, "note: tracing (OTEL_* environment): each request is a traced call through the rpc client, "+
			"a span each, rather than loadtest's raw frames; the numbers include the tracing's cost")
		res, err = runTCPTraced(ctx, cfg, c.tracing)
	default:
		res, err = loadtest.Run(ctx, cfg)
	}
	if terminal {
		fmt.Fprint(stderr, "\r\033[K")
	}
	// Interrupted, it prints the summary of what it measured, if nothing
	// (the requests it was not given time to finish count for nothing).
	if err != nil && res.Requests == 0 && ctx.Err() != nil {
		fmt.Fprintln(stderr, "msgpattern: interrupted")
	}
	if err != nil && res.Requests == 0 && ctx.Err() == nil {
		fmt.Fprintln(stderr, "msgpattern: bench:", err)
		cause := err
		if c.nats == "" && c.tracing == nil {
			// Classify loadtest's error as the rpc client's (the traced
			// run's already is), for the hints: no connection
			// (ErrUnavailable), or one lost before any reply.
			sentinel := rpc.ErrUnavailable
			if res.Lost != nil {
				sentinel = rpc.ErrConnectionLost
			}
			cause = fmt.Errorf("%w: %w", sentinel, err)
		}
		printConnectHint(stderr, &c.tls, c.tlsCfg, c.addr, c.nats, true, err, cause)
		return exitLocal
	}
	switch {
	case c.asJSON:
		writeJSONSummary(stdout, c, res)
	case c.asCSV:
		writeCSVSummary(stdout, c, res)
	default:
		writeSummary(stdout, c, res)
	}
	if ctx.Err() != nil {
		return interruptCode(ctx)
	}
	if res.Requests > 0 && float64(res.Errors) > c.maxErrorRate*float64(res.Requests) {
		fmt.Fprintf(stderr, "msgpattern: bench: %d of %d requests failed (%.3g%%), more than --max-error-rate %g allows\n",
			res.Errors, res.Requests, 100*float64(res.Errors)/float64(res.Requests), c.maxErrorRate)
		if res.ByKind[loadtest.KindNoReply] == res.Requests && c.nats == "" {
			// Not one reply: a TLS server read plain frames, say.
			cause := error(rpc.ErrConnectionLost)
			if res.Lost != nil { // why: the server closed it, or the reply was over the frame limit
				cause = fmt.Errorf("%w: %w", rpc.ErrConnectionLost, res.Lost)
			}
			if hint := c.tls.hint(cause, c.tlsCfg); hint != "" {
				fmt.Fprintln(stderr, "hint:", hint)
			}
		}
		return exitFailed
	}
	return exitOK
}

// progress reports a run's progress: one line rewritten in place on a
// terminal, plain lines otherwise (logs, CI).
func progress(w io.Writer, p loadtest.Progress, terminal bool, total int) {
	var line string
	switch {
	case p.Warmup:
		line = "warming up…"
	case total > 0:
		line = fmt.Sprintf("%s  %d/%d requests (%.0f%%)  %d errors  %.0f req/s",
			p.Elapsed.Round(time.Millisecond), p.Completed, total, 100*float64(p.Completed)/float64(total),
			p.Errors, float64(p.Completed)/max(p.Elapsed.Seconds(), 1e-9))
	default:
		line = fmt.Sprintf("%s  %d requests  %d errors  %.0f req/s",
			p.Elapsed.Round(time.Millisecond), p.Completed, p.Errors, float64(p.Completed)/max(p.Elapsed.Seconds(), 1e-9))
	}
	if terminal {
		fmt.Fprintf(w, "\r\033[K%s", line)
		return
	}
	fmt.Fprintln(w, line)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", ms(d))
	default:
		return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
	}
}

func writeSummary(w io.Writer, c *benchCommand, r loadtest.Result) {
	fmt.Fprintf(w, "\nSummary: %s on %s, %d connections × %d in flight\n", c.pattern, c.target(), c.conns, c.inflight)
	fmt.Fprintf(w, "  Count:        %d\n", r.Requests)
	fmt.Fprintf(w, "  Errors:       %d\n", r.Errors)
	fmt.Fprintf(w, "  Total:        %s\n", fmtDur(r.Elapsed))
	fmt.Fprintf(w, "  Requests/sec: %.2f\n", r.RPS)
	if l := r.Latency; l.Max > 0 { // else no request completed (an interrupted run, say)
		writeLatencies(w, l)
	}
	fmt.Fprintf(w, "\nStatus:\n  OK   %d\n", r.Requests-r.Errors)
	for _, k := range sortedKinds(r.ByKind) {
		fmt.Fprintf(w, "  %s   %d\n", k, r.ByKind[k])
	}
}

func writeLatencies(w io.Writer, l loadtest.Latency) {
	fmt.Fprintf(w, "  Fastest:      %s\n", fmtDur(l.Min))
	fmt.Fprintf(w, "  Average:      %s\n", fmtDur(l.Mean))
	fmt.Fprintf(w, "  Slowest:      %s\n", fmtDur(l.Max))

	fmt.Fprintf(w, "\nLatency distribution:\n")
	for _, q := range []struct {
		name string
		d    time.Duration
	}{{"50", l.P50}, {"90", l.P90}, {"99", l.P99}, {"99.9", l.P999}} {
		fmt.Fprintf(w, "  %5s %% in %s\n", q.name, fmtDur(q.d))
	}

	if len(l.Histogram) > 0 {
		fmt.Fprintf(w, "\nResponse time histogram:\n")
		var most uint64
		for _, b := range l.Histogram {
			most = max(most, b.Count)
		}
		for _, b := range l.Histogram {
			bar := 0
			if most > 0 {
				bar = int(40 * b.Count / most)
			}
			fmt.Fprintf(w, "  %10s [%d]\t|%s\n", fmtDur(b.Upper), b.Count, strings.Repeat("∎", bar))
		}
	}
}

func sortedKinds(m map[string]uint64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// benchJSON is the --json summary.
type benchJSON struct {
	Addr        string            `json:"addr"`
	Pattern     json.RawMessage   `json:"pattern"`
	Connections int               `json:"connections"`
	InFlight    int               `json:"in_flight"`
	Requests    uint64            `json:"requests"`
	Errors      uint64            `json:"errors"`
	ErrorsBy    map[string]uint64 `json:"errors_by_kind"`
	Seconds     float64           `json:"seconds"`
	RPS         float64           `json:"requests_per_second"`
	MinMs       float64           `json:"min_ms"`
	MeanMs      float64           `json:"mean_ms"`
	P50Ms       float64           `json:"p50_ms"`
	P90Ms       float64           `json:"p90_ms"`
	P99Ms       float64           `json:"p99_ms"`
	P999Ms      float64           `json:"p999_ms"`
	MaxMs       float64           `json:"max_ms"`
	Histogram   []histogramBar    `json:"histogram"`
}

type histogramBar struct {
	LeMs  float64 `json:"le_ms"`
	Count uint64  `json:"count"`
}

func writeJSONSummary(w io.Writer, c *benchCommand, r loadtest.Result) {
	l := r.Latency
	out := benchJSON{
		Addr: c.target(), Pattern: c.pattern, Connections: c.conns, InFlight: c.inflight,
		Requests: r.Requests, Errors: r.Errors, ErrorsBy: r.ByKind, Seconds: r.Elapsed.Seconds(), RPS: r.RPS,
		MinMs: ms(l.Min), MeanMs: ms(l.Mean), P50Ms: ms(l.P50), P90Ms: ms(l.P90), P99Ms: ms(l.P99), P999Ms: ms(l.P999), MaxMs: ms(l.Max),
	}
	for _, b := range l.Histogram {
		out.Histogram = append(out.Histogram, histogramBar{LeMs: ms(b.Upper), Count: b.Count})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(out)
}

func writeCSVSummary(w io.Writer, c *benchCommand, r loadtest.Result) {
	l := r.Latency
	cw := csv.NewWriter(w)
	cw.Write([]string{"addr", "pattern", "connections", "in_flight", "requests", "errors", "seconds", "requests_per_second",
		"min_ms", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	cw.Write([]string{c.target(), c.route, strconv.Itoa(c.conns), strconv.Itoa(c.inflight),
		strconv.FormatUint(r.Requests, 10), strconv.FormatUint(r.Errors, 10), f(r.Elapsed.Seconds()), f(r.RPS),
		f(ms(l.Min)), f(ms(l.Mean)), f(ms(l.P50)), f(ms(l.P90)), f(ms(l.P99)), f(ms(l.P999)), f(ms(l.Max))})
	cw.Flush()
}
