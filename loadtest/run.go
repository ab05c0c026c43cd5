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
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/msgpattern/msgpattern/wire"
)

// MaxInFlight bounds Connections × InFlight: every request in flight has
// its slot (a goroutine over NATS or traced), made before the run starts,
// so that a mistyped count is an error rather than the runtime running out
// of memory.
const MaxInFlight = 1 << 20

// Config describes a run. Pattern and Data are raw JSON; the zero values
// of the counts mean 1.
type Config struct {
	Addr        string // the server's host:port (Run); the host may be empty for the local machine
	TLS         *tls.Config
	Connections int // connections to open
	InFlight    int // requests outstanding on each connection (Connections × InFlight at most MaxInFlight)
	// Requests is the number of requests to measure; when zero, the run
	// lasts Duration instead.
	Requests int
	Duration time.Duration
	// Rate caps the requests per second of the whole run; zero means as
	// fast as the server answers. It is a cap, not a schedule: a request
	// waits for a free place in flight before its turn, and turns missed
	// while the server stalls are not made up, so latencies (measured
	// from the actual send) leave out the stall's queue (coordinated
	// omission, unlike wrk2's or vegeta's); compare the achieved rate
	// with Rate.
	Rate float64
	// Warmup runs load that is not measured before the run proper.
	Warmup time.Duration
	// Pattern and Data are the request's raw JSON members.
	Pattern, Data []byte
	// Progress, if set, is called about every ProgressEvery (default 1s)
	// with the counts so far.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// Timeout bounds each request: one still without its final reply
	// this long after it was sent counts as a KindDeadline error, and its
	// slot takes the next request (a late reply is ignored). Zero means no
	// bound: against a server that never answers, a run of Requests never
	// ends.
	Timeout time.Duration
	// DrainTimeout bounds the wait for replies after the last request of
	// a run of Duration is sent (default 10s, or Timeout plus a second
	// when Timeout is set); replies still missing then count as errors,
	// and the run's Elapsed ends with the last request that did end, not
	// with the wait for those.
	DrainTimeout time.Duration
}

// Progress is a report during a run.
type Progress struct {
	Elapsed   time.Duration
	Completed uint64 // requests ended so far, errors included (as Result.Requests)
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
	// Lost is why the first connection the run did not close itself was
	// lost (the server closed it, a reply over the frame limit…), nil if
	// none was.
	Lost error
}

// Error kinds.
const (
	KindNoHandler   = "no_handler"
	KindRateLimited = "rate_limited"
	KindTimeout     = "timeout"
	KindRemote      = "remote_error"
	KindNoReply     = "no_reply"          // connection closed, or DrainTimeout passed
	KindDeadline    = "deadline_exceeded" // no final reply within Timeout
)

// Indexes of the kinds in run.errs.
const (
	kindNoHandler = iota
	kindRateLimited
	kindTimeout
	kindRemote
	kindNoReply
	kindDeadline
	numKinds
)

var kinds = [numKinds]string{KindNoHandler, KindRateLimited, KindTimeout, KindRemote, KindNoReply, KindDeadline}

// ErrorKind is the kind of an error reply, from the JSON of its "err"
// member: KindNoHandler, KindRateLimited, KindTimeout (the server says the
// request timed out) or KindRemote.
func ErrorKind(errJSON []byte) string { return kinds[classify(errJSON)] }

// run is the shared state of a run.
type run struct {
	cfg       Config
	limiter   *rate.Limiter
	measuring atomic.Bool
	stop      atomic.Bool     // stop sending
	parent    context.Context // the caller's: when it ends, what is in flight counts as nothing
	quota     atomic.Int64
	hist      *histogram
	completed atomic.Uint64
	errs      [numKinds]atomic.Uint64
	connLost  atomic.Pointer[error] // the cause of the first connection lost (not one the run closed)
	// lastEnd is when the last measured request ended after sending
	// stopped (now()'s clock): a drain given up on ends the run then.
	lastEnd atomic.Int64
}

// ended records that a measured request ended now, if sending stopped.
func (r *run) ended() {
	if !r.stop.Load() {
		return
	}
	t := now()
	for m := r.lastEnd.Load(); t > m && !r.lastEnd.CompareAndSwap(m, t); m = r.lastEnd.Load() {
	}
}

// lose records why a connection of Run died, unless the run closed it
// itself.
func (r *run) lose(err error) {
	if !errors.Is(err, net.ErrClosed) {
		r.connLost.CompareAndSwap(nil, &err)
	}
}

// newRun checks cfg and sets its defaults.
func newRun(cfg Config) (*run, error) {
	cfg.Connections = max(cfg.Connections, 1)
	cfg.InFlight = max(cfg.InFlight, 1)
	if cfg.Connections > MaxInFlight/cfg.InFlight {
		return nil, fmt.Errorf("loadtest: %d connections × %d in flight is over %d requests in flight (MaxInFlight)", cfg.Connections, cfg.InFlight, MaxInFlight)
	}
	if cfg.Requests <= 0 && cfg.Duration <= 0 {
		return nil, errors.New("loadtest: set Requests or Duration")
	}
	if cfg.Timeout < 0 {
		return nil, errors.New("loadtest: negative Timeout")
	}
	if len(cfg.Data) == 0 {
		cfg.Data = []byte("null")
	}
	// Frames count UTF-16 units of valid UTF-8 (wire.AppendFrame): replace
	// invalid bytes as the server will decode them (Node's way), so that
	// the announced length is the one the server counts.
	if !utf8.Valid(cfg.Data) {
		cfg.Data = wire.SanitizeUTF8(nil, cfg.Data)
	}
	if !utf8.Valid(cfg.Pattern) {
		cfg.Pattern = wire.SanitizeUTF8(nil, cfg.Pattern)
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 10 * time.Second
		if cfg.Timeout > 0 {
			cfg.DrainTimeout = cfg.Timeout + time.Second // every request ends by Timeout
		}
	}
	r := &run{cfg: cfg, hist: newHistogram()}
	if cfg.Rate > 0 {
		r.limiter = rate.NewLimiter(rate.Limit(cfg.Rate), max(1, int(cfg.Rate/100)))
	}
	r.quota.Store(int64(cfg.Requests))
	if cfg.Requests <= 0 {
		r.quota.Store(1 << 62)
	}
	return r, nil
}

// Run performs a run and returns its result. It returns early, with what
// it measured so far, when ctx ends.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if len(cfg.Pattern) == 0 {
		return Result{}, errors.New("loadtest: no pattern")
	}
	if _, port, err := net.SplitHostPort(cfg.Addr); err != nil || port == "" {
		if err == nil {
			err = errors.New("missing port") // "host:" would dial port 0
		}
		return Result{}, fmt.Errorf("loadtest: address %q: want host:port: %w", cfg.Addr, err)
	}
	r, err := newRun(cfg)
	if err != nil {
		return Result{}, err
	}
	conns := make([]net.Conn, r.cfg.Connections)
	for i := range conns {
		nc, err := dial(ctx, r.cfg)
		if err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			return Result{}, err
		}
		conns[i] = nc
	}
	return r.measure(ctx, func(ctx, sending context.Context, wg *sync.WaitGroup) {
		for _, nc := range conns {
			wg.Go(func() { r.drive(ctx, sending, nc) })
		}
	})
}

// RunCalls performs a run as Run does, but with requests made by call,
// over any transport: Connections × InFlight goroutines each call it in a
// loop, one call at a time, conn (0 ≤ conn < Connections) telling which
// connection the goroutine stands for. call makes one request and waits
// for its final reply; it returns "" for a success, else the error's kind:
// one of the Kind constants (ErrorKind of an error reply; KindNoReply for
// a call that failed without one). Addr, TLS, Pattern and Data are not
// used. With Timeout, the ctx of each call has that deadline, and a call
// that fails once it passed, or returns at or after it, counts as
// KindDeadline (as Run counts a reply read late).
//
// call returns a non-nil lost, the cause, when the call failed because its
// connection is gone for good (closed, not to be redialled). As with Run's
// connections, a lost connection makes no more calls: the call counts as
// KindNoReply, the connection's goroutines end, and the run ends once
// every connection is lost; if none was measured, RunCalls returns an
// error wrapping the first cause.
func RunCalls(ctx context.Context, cfg Config, call func(ctx context.Context, conn int) (kind string, lost error)) (Result, error) {
	r, err := newRun(cfg)
	if err != nil {
		return Result{}, err
	}
	return r.measure(ctx, func(ctx, sending context.Context, wg *sync.WaitGroup) {
		for conn := range r.cfg.Connections {
			// Losing the connection wakes its goroutines waiting for
			// their turn (Rate), as the end of the run does.
			connSending, stopSending := context.WithCancel(sending)
			lose := func(err error) {
				r.connLost.CompareAndSwap(nil, &err)
				stopSending()
			}
			for range r.cfg.InFlight {
				wg.Go(func() { r.callLoop(ctx, connSending, conn, lose, call) })
			}
		}
	})
}

// measure starts the load with start, then goes through the phases of a
// run: warmup, measurement until the quota is used or the duration is
// over, then drain. The load stops when its first context ends; it sends
// no more requests once the second has (see wait).
func (r *run) measure(ctx context.Context, start func(ctx, sending context.Context, wg *sync.WaitGroup)) (Result, error) {
	cfg := r.cfg
	r.parent = ctx
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// sending ends when the duration is over or the run is abandoned, not
	// when the quota is used up: a request that has its share of the quota
	// is sent, even if it still waits for its turn.
	sending, stopSending := context.WithCancel(runCtx)
	defer stopSending()
	if cfg.Warmup <= 0 {
		r.measuring.Store(true) // from the first request
	}
	if r.limiter != nil {
		// The bucket starts full: its burst (there to absorb the senders'
		// jitter) would go at once, above Rate. Only the first request goes
		// at once; the others wait for their turn.
		r.limiter.ReserveN(time.Now(), r.limiter.Burst()-1)
	}
	// Measured from before the load starts: its first requests go (and
	// may end) as start returns.
	began := time.Now()
	var wg sync.WaitGroup
	start(runCtx, sending, &wg)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	if cfg.Warmup > 0 {
		r.report(0, true)
		// Not past the load's end: every connection lost during the
		// warmup leaves nothing to wait for.
		sleepCtx(ctx, done, cfg.Warmup)
		r.measuring.Store(true)
		began = time.Now()
	}
	every := cfg.ProgressEvery
	if every <= 0 {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var deadline <-chan time.Time
	if cfg.Duration > 0 && cfg.Requests <= 0 {
		t := time.NewTimer(cfg.Duration - time.Since(began))
		defer t.Stop()
		deadline = t.C
	}
	var drainTimer <-chan time.Time
	var stopped int64     // now() when sending stopped at the duration's end
	gaveUp := false       // the drain timed out
	ctxDone := ctx.Done() // nil once seen: a closed channel is ready forever
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		case <-tick.C:
			r.report(time.Since(began), false)
		case <-deadline:
			stopped = now()
			r.stop.Store(true)
			stopSending()
			drainTimer = time.After(cfg.DrainTimeout)
		case <-drainTimer:
			gaveUp = true
			cancel() // give up on missing replies
		case <-ctxDone:
			ctxDone = nil
			r.stop.Store(true)
			cancel()
		}
	}
	elapsed := time.Since(began)
	if gaveUp {
		// The wait for replies that never came is not the run's time: it
		// ended with the last request that did (or with the duration).
		elapsed = time.Duration(max(stopped, r.lastEnd.Load())-now()) + elapsed
	}
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
	// Requests without a reply are not in the latencies, nor in completed.
	res.Requests += res.ByKind[KindNoReply] + res.ByKind[KindDeadline]
	if elapsed > 0 {
		res.RPS = float64(res.Requests) / elapsed.Seconds()
	}
	if lost := r.connLost.Load(); lost != nil {
		res.Lost = *lost
	}
	err := ctx.Err()
	if lost := r.connLost.Load(); err == nil && res.Requests == 0 && lost != nil {
		// Every connection died before a request could be counted (a TLS
		// server refusing the client's certificate after the handshake,
		// say): an empty result would read as a run with nothing wrong.
		err = fmt.Errorf("loadtest: the connection was lost before any request: %w", *lost)
	}
	return res, err
}

// wait waits for the next request's turn (Rate), and reports whether it
// may be sent: not once sending has ended, the duration over — a request
// sent then would be late, and counted.
func (r *run) wait(sending context.Context) bool {
	return r.limiter.Wait(sending) == nil && sending.Err() == nil
}

// callLoop calls call, one call at a time, until the run stops sending or
// the connection is lost (sending then ends too; lose says why).
func (r *run) callLoop(ctx, sending context.Context, conn int, lose func(error), call func(context.Context, int) (string, error)) {
	for !r.stop.Load() && sending.Err() == nil {
		measured := r.measuring.Load()
		if measured && r.quota.Add(-1) < 0 { // warmup calls are not counted
			r.stop.Store(true)
			return
		}
		if r.limiter != nil && !r.wait(sending) { // the run, or the connection, is over
			if measured {
				r.quota.Add(1) // not sent: another connection may send it
			}
			return
		}
		callCtx, cancel := ctx, context.CancelFunc(func() {})
		if r.cfg.Timeout > 0 {
			callCtx, cancel = context.WithTimeout(ctx, r.cfg.Timeout)
		}
		start := time.Now()
		kind, lost := call(callCtx, conn)
		took := time.Since(start)
		// Late: failed once its deadline passed, or answered at or after
		// Timeout (as Run counts a reply read then), not cut by the run.
		late := ctx.Err() == nil && (kind != "" && errors.Is(callCtx.Err(), context.DeadlineExceeded) ||
			r.cfg.Timeout > 0 && took >= r.cfg.Timeout)
		cancel()
		if lost != nil {
			lose(lost)
		}
		if !measured || (kind != "" || lost != nil) && r.abandoned() {
			continue // a warmup call, or one the caller's ctx cut short
		}
		if ctx.Err() == nil { // not cut by the drain's end
			r.ended()
		}
		switch {
		case lost != nil: // as Run's requests on a connection that died
			r.errs[kindNoReply].Add(1)
			continue
		case late, kind == KindDeadline: // the call's own deadline too
			r.errs[kindDeadline].Add(1) // not in the latencies, as no_reply
			continue
		case kind == KindNoReply:
			r.errs[kindNoReply].Add(1)
			continue
		}
		r.hist.observe(took)
		r.completed.Add(1)
		if kind != "" {
			r.errs[kindIndex(kind)].Add(1)
		}
	}
}

// kindIndex is the index of an error kind; an unknown one is KindRemote.
func kindIndex(kind string) int {
	for i, k := range kinds {
		if k == kind {
			return i
		}
	}
	return kindRemote
}

func (r *run) report(elapsed time.Duration, warmup bool) {
	if r.cfg.Progress == nil {
		return
	}
	var errs uint64
	for i := range r.errs {
		errs += r.errs[i].Load()
	}
	// As Result.Requests: the requests that ended without a reply too.
	completed := r.completed.Load() + r.errs[kindNoReply].Load() + r.errs[kindDeadline].Load()
	r.cfg.Progress(Progress{Elapsed: elapsed, Completed: completed, Errors: errs, Warmup: warmup})
}

// dialTimeout bounds a connection's TCP connect, and then its TLS handshake.
var dialTimeout = 10 * time.Second

// dial connects to cfg.Addr, over TLS when cfg.TLS is set: the connect and
// the handshake apart, so that an error says which one failed.
func dial(ctx context.Context, cfg Config) (net.Conn, error) {
	d := &net.Dialer{Timeout: dialTimeout}
	nc, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	if cfg.TLS == nil {
		return nc, nil
	}
	tlsCfg := cfg.TLS
	if tlsCfg.ServerName == "" { // as tls.Dial: the host of the address
		host, _, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			host = cfg.Addr
		}
		tlsCfg = tlsCfg.Clone()
		tlsCfg.ServerName = host
	}
	hctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	tc := tls.Client(nc, tlsCfg)
	if err := tc.HandshakeContext(hctx); err != nil {
		nc.Close()
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			// The handshake's time is up, not the run's: say which.
			return nil, fmt.Errorf("loadtest: dial %s: no TLS handshake within %s: %w", cfg.Addr, dialTimeout, err)
		}
		return nil, fmt.Errorf("loadtest: dial %s: TLS handshake: %w", cfg.Addr, err)
	}
	return tc, nil
}

// sleepCtx waits d, or until ctx ends or done is closed.
func sleepCtx(ctx context.Context, done <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-done:
	}
}

// slot is one request in flight on a connection: its id is the slot's
// index plus a multiple of InFlight, so a reply finds its slot by division.
// Whoever ends the request — its reply, its Timeout, the end of the run —
// claims the slot by swapping id for 0, so it ends once.
type slot struct {
	id       atomic.Uint64 // the request's id plus one; 0 when free
	sent     atomic.Int64  // monotonic nanoseconds since the run's epoch
	measured atomic.Bool
}

// claim ends the slot's request if its id plus one is still id1.
func (sl *slot) claim(id1 uint64) bool { return id1 != 0 && sl.id.CompareAndSwap(id1, 0) }

var epoch = time.Now()

func now() int64 { return int64(time.Since(epoch)) }

// drive keeps InFlight requests outstanding on nc until the run stops
// sending, then waits for their replies until it is abandoned.
func (r *run) drive(ctx, sending context.Context, nc net.Conn) {
	defer nc.Close()
	n := r.cfg.InFlight
	slots := make([]slot, n)
	free := make(chan int, n) // a slot is put back once per request: it never blocks
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
	if r.cfg.Timeout > 0 {
		quit := make(chan struct{})
		defer close(quit)
		go r.expire(quit, slots, free, &outstanding)
	}

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
			r.lost(slots)
			return
		case <-ctx.Done():
			r.lost(slots)
			return
		}
		batch = batch[:0]
		for {
			if r.stop.Load() {
				free <- s
				break
			}
			// Read once: a request counted in the quota is the one
			// measured, even as the warmup ends.
			measured := r.measuring.Load()
			if measured && r.quota.Add(-1) < 0 { // warmup requests are not counted
				r.stop.Store(true)
				free <- s
				break
			}
			if r.limiter != nil && !r.wait(sending) {
				free <- s
				break
			}
			id := gens[s]*uint64(n) + uint64(s)
			gens[s]++
			body = append(append(append(body[:0], prefix...), strconv.AppendUint(idBuf[:0], id, 10)...), '}')
			batch = wire.AppendFrame(batch, wire.NestJS, body)
			sl := &slots[s]
			sl.sent.Store(now())
			sl.measured.Store(measured)
			sl.id.Store(id + 1)
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
			if r.cfg.Timeout > 0 { // a server that stops reading fails the connection
				nc.SetWriteDeadline(time.Now().Add(r.cfg.Timeout))
			}
			if _, err := nc.Write(batch); err != nil {
				break
			}
		}
	}
	// Wait for the replies still outstanding (bounded by the run's drain,
	// and by Timeout).
	for outstanding.Load() > 0 {
		select {
		case <-readDone:
			r.lost(slots)
			return
		case <-ctx.Done():
			r.lost(slots)
			return
		case <-free:
		}
	}
}

// expire ends the requests that have waited Timeout for their reply, until
// quit is closed.
func (r *run) expire(quit <-chan struct{}, slots []slot, free chan<- int, outstanding *atomic.Int64) {
	timeout := r.cfg.Timeout
	tick := time.NewTicker(min(max(timeout/10, time.Millisecond), 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-quit:
			return
		case <-tick.C:
		}
		due := now() - int64(timeout)
		for s := range slots {
			sl := &slots[s]
			id1 := sl.id.Load()
			if id1 == 0 || sl.sent.Load() > due || !sl.claim(id1) {
				continue
			}
			if sl.measured.Load() {
				r.errs[kindDeadline].Add(1)
				r.ended()
			}
			outstanding.Add(-1)
			free <- s
		}
	}
}

// abandoned reports whether the caller's ctx ended the run: the requests
// it cut short were not lost, only not waited for.
func (r *run) abandoned() bool { return r.parent.Err() != nil }

// lost counts the requests still outstanding, which will get no reply,
// unless the caller abandoned the run: then they were not lost, only not
// waited for.
func (r *run) lost(slots []slot) {
	for s := range slots {
		sl := &slots[s]
		if sl.claim(sl.id.Load()) && sl.measured.Load() && !r.abandoned() {
			r.errs[kindNoReply].Add(1)
		}
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
			r.lose(err)
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
			sl := &slots[s]
			if !sl.claim(id + 1) {
				continue // a reply after its Timeout, or not ours
			}
			if sl.measured.Load() {
				r.ended()
			}
			switch took := time.Duration(now() - sl.sent.Load()); {
			case !sl.measured.Load():
			case r.cfg.Timeout > 0 && took >= r.cfg.Timeout:
				// Past Timeout before expire's next tick saw it: late all
				// the same, and not in the latencies.
				r.errs[kindDeadline].Add(1)
			default:
				r.hist.observe(took)
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
		if need := wr + sc.MinRemaining(); need > len(buf) && len(buf)-wr < 4<<10 {
			// Grown with what has arrived, doubling at most, never from the
			// announced length: a server announcing a long frame and
			// sending it slowly, or never, costs about twice its bytes.
			nb := make([]byte, min(need, max(2*len(buf), wr+4<<10)))
			copy(nb, buf[:wr])
			buf = nb
		}
		m, err := nc.Read(buf[wr:])
		wr += m
		if m == 0 && err != nil {
			r.lose(err)
			return
		}
	}
}

// classify maps an error reply to a kind.
func classify(errJSON []byte) int {
	s := string(errJSON)
	switch {
	case s == `"`+wire.NoHandlerMessage+`"`:
		return kindNoHandler
	case containsFold(s, "rate limit"):
		return kindRateLimited
	case containsFold(s, "timed out") || containsFold(s, "timeout"):
		return kindTimeout
	}
	return kindRemote
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
