package main

// bench --nats: the load of loadtest.Run, over NATS with natsrpc.Client.
// Each of -c clients has a NATS connection of its own, and -p goroutines
// that call Send in a loop; the phases (warmup, -n or -d, drain), pacing
// (--rate), progress reports and the Result are those of loadtest, so that
// the summary is printed the same way.

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/msgpattern/msgpattern/loadtest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// natsDrainTimeout bounds a call: one still unanswered then counts as
// no_reply (over NATS an instance that dies holding a request says nothing).
const natsDrainTimeout = 10 * time.Second

// natsRun is the shared state of a run over NATS.
type natsRun struct {
	cfg       loadtest.Config
	pattern   json.RawMessage
	data      json.RawMessage
	limiter   *rate.Limiter
	measuring atomic.Bool
	stop      atomic.Bool
	quota     atomic.Int64
	hist      *latencyHistogram
	completed atomic.Uint64
	errs      [len(errKinds)]atomic.Uint64
}

var errKinds = [...]string{loadtest.KindNoHandler, loadtest.KindRateLimited, loadtest.KindTimeout, loadtest.KindRemote, loadtest.KindNoReply}

const kindNoReply = 4 // index of loadtest.KindNoReply in errKinds

// runNATS performs a run over the NATS server at url, as loadtest.Run does
// over TCP: cfg.Addr and cfg.TLS are not used, cfg.Pattern and cfg.Data
// are the request's raw JSON.
func runNATS(ctx context.Context, url string, cfg loadtest.Config) (loadtest.Result, error) {
	cfg.Connections = max(cfg.Connections, 1)
	cfg.InFlight = max(cfg.InFlight, 1)
	if cfg.Requests <= 0 && cfg.Duration <= 0 {
		return loadtest.Result{}, errors.New("set Requests or Duration")
	}
	if len(cfg.Data) == 0 {
		cfg.Data = []byte("null")
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = natsDrainTimeout
	}
	r := &natsRun{cfg: cfg, pattern: cfg.Pattern, data: cfg.Data, hist: newLatencyHistogram()}
	if cfg.Rate > 0 {
		r.limiter = rate.NewLimiter(rate.Limit(cfg.Rate), max(1, int(cfg.Rate/100)))
	}
	r.quota.Store(int64(cfg.Requests))
	if cfg.Requests <= 0 {
		r.quota.Store(1 << 62)
	}

	clients := make([]*natsCaller, 0, cfg.Connections)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for range cfg.Connections {
		nc, err := dialNATS(url, "msgpattern bench", 10*time.Second)
		if err != nil {
			return loadtest.Result{}, err
		}
		c, err := natsrpc.NewClient(nc, natsrpc.WithCallTimeout(cfg.DrainTimeout))
		if err != nil {
			nc.Close()
			return loadtest.Result{}, err
		}
		clients = append(clients, &natsCaller{Client: c, nc: nc})
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range clients {
		for range cfg.InFlight {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.drive(runCtx, c)
			}()
		}
	}

	if cfg.Warmup > 0 {
		r.report(0, true)
		sleepCtx(ctx, cfg.Warmup)
	}
	r.measuring.Store(true)
	start := time.Now()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	every := cfg.ProgressEvery
	if every <= 0 {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var deadline <-chan time.Time
	if cfg.Duration > 0 && cfg.Requests <= 0 {
		t := time.NewTimer(cfg.Duration)
		defer t.Stop()
		deadline = t.C
	}
	var drainTimer <-chan time.Time
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		case <-tick.C:
			r.report(time.Since(start), false)
		case <-deadline:
			r.stop.Store(true)
			drainTimer = time.After(cfg.DrainTimeout)
		case <-drainTimer:
			cancel() // give up on missing replies
		case <-ctx.Done():
			r.stop.Store(true)
			cancel()
			<-done
			finished = true
		}
	}
	elapsed := time.Since(start)
	res := loadtest.Result{
		Requests: r.completed.Load(),
		Elapsed:  elapsed,
		ByKind:   map[string]uint64{},
		Latency:  r.hist.summary(20),
	}
	for i, k := range errKinds {
		if n := r.errs[i].Load(); n > 0 {
			res.ByKind[k] = n
			res.Errors += n
		}
	}
	res.Requests += res.ByKind[loadtest.KindNoReply]
	if elapsed > 0 {
		res.RPS = float64(res.Requests) / elapsed.Seconds()
	}
	return res, ctx.Err()
}

// drive calls the pattern in a loop, one call at a time, until the run
// stops.
func (r *natsRun) drive(ctx context.Context, c *natsCaller) {
	for !r.stop.Load() && ctx.Err() == nil {
		measured := r.measuring.Load()
		if measured && r.quota.Add(-1) < 0 { // warmup calls are not counted
			r.stop.Store(true)
			return
		}
		if r.limiter != nil && r.limiter.Wait(ctx) != nil {
			return // the run is over
		}
		start := time.Now()
		err := c.Send(ctx, r.pattern, r.data, nil)
		took := time.Since(start)
		if !measured {
			continue
		}
		kind := classifyNATS(err)
		if kind == kindNoReply {
			r.errs[kindNoReply].Add(1) // not in the latencies, as in loadtest
			continue
		}
		r.hist.observe(took)
		r.completed.Add(1)
		if kind >= 0 {
			r.errs[kind].Add(1)
		}
	}
}

func (r *natsRun) report(elapsed time.Duration, warmup bool) {
	if r.cfg.Progress == nil {
		return
	}
	var errs uint64
	for i := range r.errs {
		errs += r.errs[i].Load()
	}
	r.cfg.Progress(loadtest.Progress{Elapsed: elapsed, Completed: r.completed.Load(), Errors: errs, Warmup: warmup})
}

// classifyNATS returns the index in errKinds of a call's error, -1 for
// none: error replies by their text, as loadtest classifies them; local
// failures (lost connection, no reply within the drain timeout, the run
// interrupted) are no_reply.
func classifyNATS(err error) int {
	if err == nil {
		return -1
	}
	if errors.Is(err, rpc.ErrNoHandler) {
		return 0
	}
	remote, ok := errors.AsType[*rpc.RemoteError](err)
	if !ok {
		return kindNoReply
	}
	s := strings.ToLower(string(remote.Raw))
	switch {
	case strings.Contains(s, "rate limit"):
		return 1
	case strings.Contains(s, "timed out") || strings.Contains(s, "timeout"):
		return 2
	}
	return 3
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// latencyHistogram counts latencies in log-linear buckets, as loadtest's
// (which is not exported) does: each power of two of nanoseconds is split
// into 32 buckets, so that each is within about 3% of what it holds.
type latencyHistogram struct {
	counts [histBuckets]atomic.Uint64
	sum    atomic.Int64
	min    atomic.Int64
	max    atomic.Int64
}

const (
	histSubBits    = 5
	histSubBuckets = 1 << histSubBits
	histBuckets    = 40 * histSubBuckets
)

func newLatencyHistogram() *latencyHistogram {
	h := &latencyHistogram{}
	h.min.Store(math.MaxInt64)
	return h
}

func histBucketOf(ns int64) int {
	if ns < histSubBuckets {
		return int(max(ns, 0))
	}
	p := bits.Len64(uint64(ns)) - 1
	sub := int(ns>>(p-histSubBits)) & (histSubBuckets - 1)
	return min((p-histSubBits+1)*histSubBuckets+sub, histBuckets-1)
}

// histBucketUpper is the largest latency bucket i holds.
func histBucketUpper(i int) int64 {
	if i < histSubBuckets {
		return int64(i)
	}
	p := i/histSubBuckets + histSubBits - 1
	sub := int64(i % histSubBuckets)
	return (int64(1)<<p | sub<<(p-histSubBits)) + (int64(1) << (p - histSubBits)) - 1
}

func (h *latencyHistogram) observe(d time.Duration) {
	ns := int64(d)
	h.counts[histBucketOf(ns)].Add(1)
	h.sum.Add(ns)
	for m := h.min.Load(); ns < m && !h.min.CompareAndSwap(m, ns); m = h.min.Load() {
	}
	for m := h.max.Load(); ns > m && !h.max.CompareAndSwap(m, ns); m = h.max.Load() {
	}
}

// summary computes the percentiles and a histogram of bars bars of equal
// width between the fastest and the slowest, as loadtest's Latency.
func (h *latencyHistogram) summary(bars int) loadtest.Latency {
	var counts [histBuckets]uint64
	var total uint64
	for i := range counts {
		counts[i] = h.counts[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return loadtest.Latency{}
	}
	l := loadtest.Latency{
		Min:  time.Duration(h.min.Load()),
		Max:  time.Duration(h.max.Load()),
		Mean: time.Duration(h.sum.Load() / int64(total)),
	}
	q := func(p float64) time.Duration {
		rank := uint64(math.Ceil(p * float64(total)))
		var seen uint64
		for i, c := range counts {
			seen += c
			if seen >= rank && c > 0 {
				return min(time.Duration(histBucketUpper(i)), l.Max)
			}
		}
		return l.Max
	}
	l.P50, l.P90, l.P99, l.P999 = q(0.50), q(0.90), q(0.99), q(0.999)
	if bars <= 0 || l.Max <= l.Min {
		l.Histogram = []loadtest.Bucket{{Upper: l.Max, Count: total}}
		return l
	}
	width := max((l.Max-l.Min)/time.Duration(bars), 1)
	out := make([]loadtest.Bucket, bars)
	for i := range out {
		out[i].Upper = l.Min + width*time.Duration(i+1)
	}
	out[bars-1].Upper = l.Max
	for i, c := range counts {
		if c == 0 {
			continue
		}
		v := min(time.Duration(histBucketUpper(i)), l.Max)
		b := min(int((v-l.Min)/width), bars-1)
		out[max(b, 0)].Count += c
	}
	l.Histogram = out
	return l
}
