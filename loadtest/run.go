package loadtest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/msgpattern/msgpattern/wire"
)

// Config describes a run. Pattern and Data are raw JSON; the zero values
// of the counts mean 1.
type Config struct {
	Addr        string
	TLS         *tls.Config
	Connections int // connections to open
	InFlight    int // requests outstanding on each connection
	// Requests is the number of requests to measure; when zero, the run
	// lasts Duration instead.
	Requests int
	Duration time.Duration
	// Rate caps the requests per second of the whole run; zero means as
	// fast as the server answers.
	Rate float64
	// Warmup runs load that is not measured before the run proper.
	Warmup time.Duration
	// Pattern and Data are the request's raw JSON members.
	Pattern, Data []byte
	// Progress, if set, is called about every ProgressEvery (default 1s)
	// with the counts so far.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// DrainTimeout bounds the wait for replies after the last request is
	// sent (default 10s); replies still missing then count as errors.
	DrainTimeout time.Duration
}

// Progress is a report during a run.
type Progress struct {
	Elapsed   time.Duration
	Completed uint64
	Errors    uint64
	Warmup    bool
}

// Result is what a run measured.
type Result struct {
	Requests uint64            // completed (measured) requests, errors included
	Errors   uint64            // error replies and requests without a reply
	ByKind   map[string]uint64 // errors by kind
	Elapsed  time.Duration
	RPS      float64
	Latency  Latency
}

// Error kinds.
const (
	KindNoHandler   = "no_handler"
	KindRateLimited = "rate_limited"
	KindTimeout     = "timeout"
	KindRemote      = "remote_error"
	KindNoReply     = "no_reply" // connection closed, or DrainTimeout passed
)

// run is the shared state of a run.
type run struct {
	cfg       Config
	limiter   *rate.Limiter
	measuring atomic.Bool
	stop      atomic.Bool // stop sending
	quota     atomic.Int64
	hist      *histogram
	completed atomic.Uint64
	errs      [5]atomic.Uint64
}

var kinds = [5]string{KindNoHandler, KindRateLimited, KindTimeout, KindRemote, KindNoReply}

// Run performs a run and returns its result. It returns early, with what
// it measured so far, when ctx ends.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg.Connections = max(cfg.Connections, 1)
	cfg.InFlight = max(cfg.InFlight, 1)
	if cfg.Requests <= 0 && cfg.Duration <= 0 {
		return Result{}, errors.New("loadtest: set Requests or Duration")
	}
	if len(cfg.Pattern) == 0 {
		return Result{}, errors.New("loadtest: no pattern")
	}
	if len(cfg.Data) == 0 {
		cfg.Data = []byte("null")
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 10 * time.Second
	}
	r := &run{cfg: cfg, hist: newHistogram()}
	if cfg.Rate > 0 {
		r.limiter = rate.NewLimiter(rate.Limit(cfg.Rate), max(1, int(cfg.Rate/100)))
	}
	r.quota.Store(int64(cfg.Requests))
	if cfg.Requests <= 0 {
		r.quota.Store(1 << 62)
	}

	conns := make([]net.Conn, cfg.Connections)
	for i := range conns {
		nc, err := dial(ctx, cfg)
		if err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			return Result{}, err
		}
		conns[i] = nc
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, nc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.drive(runCtx, nc)
		}()
	}

	// Phases: warmup, then measurement until the quota is used or the
	// duration is over, then drain.
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
		}
	}
	elapsed := time.Since(start)
	res := Result{
		Requests: r.completed.Load(),
		Elapsed:  elapsed,
		ByKind:   map[string]uint64{},
		Latency:  r.hist.summary(20),
	}
	for i, k := range kinds {
		if n := r.errs[i].Load(); n > 0 {
			res.ByKind[k] = n
			res.Errors += n
		}
	}
	res.Requests += res.ByKind[KindNoReply]
	if elapsed > 0 {
		res.RPS = float64(res.Requests) / elapsed.Seconds()
	}
	return res, ctx.Err()
}

func (r *run) report(elapsed time.Duration, warmup bool) {
	if r.cfg.Progress == nil {
		return
	}
	var errs uint64
	for i := range r.errs {
		errs += r.errs[i].Load()
	}
	r.cfg.Progress(Progress{Elapsed: elapsed, Completed: r.completed.Load(), Errors: errs, Warmup: warmup})
}

func dial(ctx context.Context, cfg Config) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if cfg.TLS != nil {
		return (&tls.Dialer{NetDialer: d, Config: cfg.TLS}).DialContext(ctx, "tcp", cfg.Addr)
	}
	nc, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	return nc, nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// slot is one request in flight on a connection: its id is the slot's
// index plus a multiple of InFlight, so a reply finds its slot by division.
type slot struct {
	sent     int64 // monotonic nanoseconds since the run's epoch
	measured bool
}

var epoch = time.Now()

func now() int64 { return int64(time.Since(epoch)) }

// drive keeps InFlight requests outstanding on nc until the run stops.
func (r *run) drive(ctx context.Context, nc net.Conn) {
	defer nc.Close()
	n := r.cfg.InFlight
	slots := make([]slot, n)
	free := make(chan int, n)
	for i := range n {
		free <- i
	}
	gens := make([]uint64, n) // id = gen*n + slot
	var outstanding atomic.Int64
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		r.read(nc, slots, free, &outstanding)
	}()
	go func() { // unblock reads when the run is abandoned
		select {
		case <-ctx.Done():
			nc.Close()
		case <-readDone:
		}
	}()

	prefix := append(append([]byte(`{"pattern":`), r.cfg.Pattern...), `,"data":`...)
	prefix = append(append(prefix, r.cfg.Data...), `,"id":`...)
	batch := make([]byte, 0, 4096)
	body := make([]byte, 0, len(prefix)+32)
	var idBuf [24]byte
	for !r.stop.Load() {
		var s int
		select {
		case s = <-free:
		case <-readDone:
			return
		case <-ctx.Done():
			return
		}
		batch = batch[:0]
		for {
			if r.measuring.Load() && r.quota.Add(-1) < 0 { // warmup requests are not counted
				r.stop.Store(true)
				free <- s
				break
			}
			if r.limiter != nil && r.limiter.Wait(ctx) != nil {
				free <- s
				break
			}
			id := gens[s]*uint64(n) + uint64(s)
			gens[s]++
			body = append(append(append(body[:0], prefix...), strconv.AppendUint(idBuf[:0], id, 10)...), '}')
			batch = wire.AppendFrame(batch, wire.NestJS, body)
			slots[s] = slot{sent: now(), measured: r.measuring.Load()}
			outstanding.Add(1)
			if r.limiter != nil { // paced: send each request as it is due
				break
			}
			select {
			case s = <-free:
				continue
			default:
			}
			break
		}
		if len(batch) > 0 {
			if _, err := nc.Write(batch); err != nil {
				break
			}
		}
	}
	// Wait for the replies still outstanding (bounded by the run's drain).
	for outstanding.Load() > 0 {
		select {
		case <-readDone:
			r.lost(outstanding.Load(), slots)
			return
		case <-ctx.Done():
			r.lost(outstanding.Load(), slots)
			return
		case <-free:
		}
	}
}

// lost counts requests that never got a reply.
func (r *run) lost(n int64, _ []slot) {
	if n > 0 && r.measuring.Load() {
		r.errs[4].Add(uint64(n))
	}
}

// read takes replies until the connection closes.
func (r *run) read(nc net.Conn, slots []slot, free chan<- int, outstanding *atomic.Int64) {
	var sc wire.FrameScanner
	buf := make([]byte, 64<<10)
	rd, wr := 0, 0
	n := uint64(len(slots))
	for {
		f, err := sc.Scan(buf[rd:wr])
		if err != nil {
			return
		}
		if f.Len > 0 {
			rd += f.Len
			rep, ok, err := wire.ParseReply(f.Body, 0)
			if err != nil || !ok || !rep.IsFinal() {
				continue // stream values: wait for the end
			}
			id, err := strconv.ParseUint(string(rep.ID), 10, 64)
			if err != nil {
				continue
			}
			s := int(id % n)
			sl := slots[s]
			if sl.measured {
				r.hist.observe(time.Duration(now() - sl.sent))
				r.completed.Add(1)
				if rep.HasError() {
					r.errs[classify(rep.Err)].Add(1)
				}
			}
			outstanding.Add(-1)
			free <- s
			continue
		}
		if rd == wr {
			rd, wr = 0, 0
		} else if wr == len(buf) {
			wr = copy(buf, buf[rd:wr])
			rd = 0
		}
		if need := wr + sc.MinRemaining(); need > len(buf) {
			nb := make([]byte, 2*need)
			copy(nb, buf[:wr])
			buf = nb
		}
		m, err := nc.Read(buf[wr:])
		wr += m
		if m == 0 && err != nil {
			return
		}
	}
}

// classify maps an error reply to a kind.
func classify(errJSON []byte) int {
	s := string(errJSON)
	switch {
	case s == `"`+wire.NoHandlerMessage+`"`:
		return 0
	case containsFold(s, "rate limit"):
		return 1
	case containsFold(s, "timed out") || containsFold(s, "timeout"):
		return 2
	}
	return 3
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		match := true
		for j := 0; j < len(sub); j++ {
			c := s[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}
