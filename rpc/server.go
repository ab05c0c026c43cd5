package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Server serves message patterns over TCP, byte-compatible with the NestJS
// TCP transport: a NestJS ClientProxy can call its handlers unchanged.
//
// Register handlers with [Server.Handle] and friends (or through
// [NewServerWrapper], the original API), then call [Server.Start] or
// [Server.Serve]. All methods are safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	limit   *logLimiter
	router  *Router
	disp    dispatcher
	limiter *rate.Limiter // server-wide, nil when off
	stats   counters
	mon     *monitor

	budget           *memoryBudget
	spare            chunkCache    // read-chunk tails of connections gone idle (idle.go)
	warmFor          time.Duration // idle.go's warmFor; tests shorten it
	osMemory         osMemoryReturner
	readPauseMark    int          // queued reply bytes past which a reader pauses
	shedding         shedder      // drops stalled peers while the budget is short (shed.go)
	handedOffRunning atomic.Int64 // handlers running off their reader; at most MaxHandlers

	dispatching  atomic.Int64  // Dispatch calls in progress
	cutCounted   atomic.Bool   // Shutdown counted the handlers it cut off (ErrorCounts.ShutdownCut)
	forced       atomic.Bool   // forceClose began: readers start none of the frames they hold
	dispatchIdle chan struct{} // signalled when dispatching drops to 0
	// dispatchShut is set once Shutdown's drain found no dispatch in
	// progress: later ones are refused, not run unwaited.
	dispatchShut atomic.Bool
	onShutdown   []func(context.Context)
	hooksDone    chan struct{}      // closed once the OnShutdown hooks returned; made by the first beginClose
	hooksCancel  context.CancelFunc // ends the hooks' context: Close during a Shutdown's hooks; set by the first beginClose
	closed       chan struct{}      // closed by the first beginClose: accept loops stop their backoff
	transports   []*transportStats  // other than TCP, under mu
	tcpRequests  atomic.Uint64      // TCP's row as last reported (transportsSnapshot)
	tcpEvents    atomic.Uint64
	otherPeer    atomic.Pointer[Peer] // of messages dispatched without a peer

	baseCtx    context.Context // parent of every connection's context
	cancelBase context.CancelFunc

	mu         sync.Mutex
	listeners  map[net.Listener]struct{}
	connList   []*conn            // open connections, counted against MaxConnections
	closingSet map[*conn]struct{} // connections in their lingering close, at most maxClosing
	detached   map[*conn]struct{} // connections closed but for events still running (the last to return closes it: conn.run), at most MaxHandlers
	started    bool
	closing    bool
	serving    sync.WaitGroup // accept loops
	idle       chan struct{}  // signalled when the last connection closes
}

// NewServer returns a server configured by config (nil means every
// default) that logs to logger (nil means slog.Default()).
func NewServer(config *Config, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{
		cfg:          config.withDefaults(),
		log:          logger,
		limit:        newLogLimiter(10),
		router:       NewRouter(),
		listeners:    map[net.Listener]struct{}{},
		closingSet:   map[*conn]struct{}{},
		detached:     map[*conn]struct{}{},
		idle:         make(chan struct{}, 1),
		dispatchIdle: make(chan struct{}, 1),
		closed:       make(chan struct{}),
	}
	s.budget = newMemoryBudget(s.cfg.memoryBudget())
	s.readPauseMark = s.cfg.readPauseMark()
	s.warmFor = warmFor
	s.stats.started = time.Now()
	s.baseCtx, s.cancelBase = context.WithCancel(context.Background())
	s.disp = dispatcher{
		router: s.router, timeout: s.cfg.Timeout, expose: s.cfg.ExposeErrors,
		retries: max(s.cfg.RetryAttempts, 0), retryDelay: s.cfg.RetryDelay,
		log: logger, limit: s.limit, stats: &s.stats, shuttingDown: s.isClosing, forced: s.forced.Load,
	}
	s.mon = newMonitor(s)
	if s.cfg.Introspection {
		s.registerIntrospection()
	}
	if s.cfg.GlobalRateLimitPerSec > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(s.cfg.GlobalRateLimitPerSec), s.cfg.globalRateLimitBurst())
	}
	return s
}

// Config returns the server's configuration, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Logger returns the server's logger (slog.Default() when NewServer was
// given none), for the transports that serve its handlers.
func (s *Server) Logger() *slog.Logger { return s.log }

// Router returns the server's router, to share its handlers with another
// transport.
func (s *Server) Router() *Router { return s.router }

// Handle registers h for pattern; see [Router.Handle].
func (s *Server) Handle(pattern any, h Handler, opts ...HandleOption) {
	s.router.Handle(pattern, h, opts...)
}

// HandleEvent registers h for events matching pattern; see [Router.HandleEvent].
func (s *Server) HandleEvent(pattern any, h Handler, opts ...HandleOption) {
	s.router.HandleEvent(pattern, h, opts...)
}

// Use adds middleware around every handler; see [Router.Use].
func (s *Server) Use(mw ...Middleware) { s.router.Use(mw...) }

// Start listens on the configured address and serves in the background. It
// returns once the listener is bound, with the bind error if there is one,
// or ErrServerClosed, binding nothing, once Shutdown or Close has begun.
func (s *Server) Start() error {
	// A server shut down (or closing) does not bind its address at all:
	// the port may be its replacement's already.
	if s.isClosing() {
		return ErrServerClosed
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("rpc: listen on %s: %w", s.cfg.Addr, err)
	}
	if s.cfg.TLSConfig != nil {
		ln = tlsListener{Listener: ln, cfg: s.cfg.TLSConfig, writeTimeout: s.cfg.WriteTimeout}
	}
	if err := s.track(ln); err != nil {
		ln.Close()
		return err
	}
	s.log.Info("msgpattern server listening", "addr", ln.Addr().String())
	go s.acceptLoop(ln)
	return nil
}

// Serve accepts connections on ln until Shutdown or Close; it always
// returns a non-nil error, ErrServerClosed after a shutdown, and closes ln
// (also when the server was already shut down). Config.Addr and
// Config.TLSConfig are not used: ln is served as it is.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.track(ln); err != nil {
		ln.Close()
		return err
	}
	return s.acceptLoop(ln)
}

// Addr returns the address of a listener the server serves, or nil.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ln := range s.listeners {
		return ln.Addr()
	}
	return nil
}

func (s *Server) track(ln net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return ErrServerClosed
	}
	if !s.started {
		s.started = true
		go s.mon.run()
	}
	s.listeners[ln] = struct{}{}
	s.serving.Add(1)
	return nil
}

func (s *Server) acceptLoop(ln net.Listener) error {
	defer s.serving.Done()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			if acceptPasses(err) {
				// Out of file descriptors and the like: wait, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.limit.log(s.log, slog.LevelWarn, "accept failed; retrying", "err", err, "delay", backoff)
				// Not past a Shutdown or Close, which wait for this loop.
				t := time.NewTimer(backoff)
				select {
				case <-t.C:
				case <-s.closed:
					t.Stop()
				}
				continue
			}
			s.log.Error("accept failed; listener stopped", "err", err)
			s.mu.Lock()
			delete(s.listeners, ln)
			s.mu.Unlock()
			ln.Close()
			return err
		}
		backoff = 0
		s.admit(nc)
	}
}

// acceptPasses reports whether an Accept error will likely pass: a
// timeout, an error that says it is temporary (EMFILE, ENFILE), or the
// system out of sockets or buffers by another name (acceptExhausted).
func acceptPasses(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary() || acceptExhausted(err)
}

// admit starts serving nc, or refuses it when the server is closing or
// full. A full server first tries to make room by evicting its longest-idle
// connection (see evictIdleLocked).
func (s *Server) admit(nc net.Conn) {
	// Every accepted connection counts, refused ones too, so that
	// RejectedConnections is a share of TotalConnections.
	s.stats.total.Add(1)
	s.mu.Lock()
	if s.closing || len(s.connList) >= s.cfg.maxConnections() && !s.evictIdleLocked() {
		closing := s.closing
		s.mu.Unlock()
		nc.Close()
		if !closing {
			s.stats.rejected.Add(1)
			s.limit.log(s.log, slog.LevelWarn, "connection refused: MaxConnections reached", "remote", nc.RemoteAddr(), "max", s.cfg.MaxConnections)
		}
		return
	}
	c := newConn(s, nc)
	c.idx, c.listed = len(s.connList), true
	s.connList = append(s.connList, c)
	s.mu.Unlock()
	s.stats.active.Add(1)
	s.log.Debug("connection accepted", "remote", c.remote)
	setKeepAlive(nc, &s.cfg)
	go c.serve()
}

// evictIdleLocked makes room for a new connection at MaxConnections by
// closing the connection idle the longest, if one has been idle for at
// least EvictIdleAfter: nothing running, nothing buffered in either
// direction, no byte read for that long. It reports whether it made room.
// The evicted connection leaves the list at once; its reader still serves
// a request it read just before, then closes. s.mu is held.
func (s *Server) evictIdleLocked() bool {
	if s.cfg.EvictIdleAfter <= 0 {
		return false
	}
	now := monotime()
	var victim *conn
	var oldest int64
	for _, c := range s.connList {
		if c.inflight.Load() != 0 {
			continue
		}
		at := c.activeAt.Load() // after inflight: a handler's end stores it first
		if now-at < int64(s.cfg.EvictIdleAfter) || c.midFrame.Load() ||
			c.out.queuedBytes() != 0 || c.evicted.Load() || c.draining.Load() {
			continue
		}
		if victim == nil || at < oldest {
			victim, oldest = c, at
		}
	}
	if victim == nil {
		return false
	}
	victim.evicted.Store(true)
	s.unlistLocked(victim)
	if len(s.closingSet) >= s.maxClosing() {
		// Past the bound it closes without lingering, as beginClosing
		// has others do; it stays in the set (the monitor must see a
		// request it read just before) only until its reader finishes.
		s.stats.lingerSkipped.Add(1)
		victim.noLinger = true
	}
	s.closingSet[victim] = struct{}{}
	victim.closing = true
	victim.stopReading()
	return true
}

// unlistLocked takes c off the connection list; s.mu is held.
func (s *Server) unlistLocked(c *conn) {
	if !c.listed {
		return
	}
	c.listed = false
	last := len(s.connList) - 1
	s.connList[c.idx] = s.connList[last]
	s.connList[c.idx].idx = c.idx
	s.connList[last] = nil
	s.connList = s.connList[:last]
	s.stats.active.Add(-1)
}

// maxClosing bounds the connections closing: their reader has stopped, and
// they finish their handlers, write their last replies and linger (see
// lingeringClose). They hold a descriptor each but no longer count against
// MaxConnections. Past the bound a connection closes without lingering.
// (Those still finishing handlers are bounded by MaxHandlers already: a
// reader sees the end of its input only once its inline handler returned.)
func (s *Server) maxClosing() int { return max(16, s.cfg.maxConnections()/4) }

// beginClosing moves c from the connection list to the closing set, and
// reports whether it may linger.
func (s *Server) beginClosing(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	// While the server drains, lingering costs nothing the bound protects:
	// every connection's descriptor is held already, and Shutdown's context
	// ends every linger. Skipping it would reset replies in flight.
	if !c.closing && !c.draining.Load() && len(s.closingSet) >= s.maxClosing() {
		s.stats.lingerSkipped.Add(1)
		return false
	}
	s.unlistLocked(c)
	if !c.closing {
		c.closing = true
		s.closingSet[c] = struct{}{}
	}
	return !c.noLinger
}

// detach takes c, whose reader has finished and whose handlers still
// running are all events, off the connection list (it no longer counts
// against MaxConnections) into the detached set, which Shutdown still
// waits for; it reports whether it did (not for a connection already
// closing).
func (s *Server) detach(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !c.listed || c.closing {
		return false
	}
	s.unlistLocked(c)
	s.detached[c] = struct{}{}
	return true
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	s.unlistLocked(c)
	if c.closing {
		delete(s.closingSet, c)
		c.closing = false
	}
	delete(s.detached, c)
	empty := len(s.connList) == 0 && len(s.closingSet) == 0 && len(s.detached) == 0
	s.mu.Unlock()
	if empty {
		select {
		case s.idle <- struct{}{}:
		default:
		}
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Shutdown stops the server gracefully: it stops accepting connections and
// reading new requests, lets the requests already read finish and their
// replies go out, then closes every connection. If ctx ends first, the
// handlers still running have their contexts cancelled, every connection
// is closed at once, and Shutdown returns ctx.Err() without waiting for
// them: a handler that ignores its cancelled context keeps its goroutine,
// and its connection's reader, until it returns (as net/http's Shutdown
// does not wait for handlers past its context either).
//
// Every call waits for the drain, also one made while another is in
// progress: the transports' OnShutdown hooks run once, and a later call
// waits for them (or its ctx) before it waits for the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	hctx, hcancel := context.WithCancel(ctx)
	defer hcancel()
	conns, hooks, hooksDone, first := s.beginClose(hcancel)
	for _, c := range conns {
		c.draining.Store(true)
		c.stopReading()
	}
	var err error
	if first {
		s.runHooks(hctx, hooks)
		close(hooksDone)
	} else if !isDone(hooksDone) { // what is done already does not depend on ctx
		select {
		case <-hooksDone:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	for _, c := range conns {
		if err != nil {
			break
		}
		if isDone(c.done) {
			continue
		}
		select {
		case <-c.done:
			continue
		case <-ctx.Done():
			err = ctx.Err()
		}
		break
	}
	if err == nil {
		err = s.drainDispatches(ctx)
	}
	if err == nil {
		// From now on Dispatch refuses; one that counted itself in before
		// it saw this is waited for (both sides are sequentially
		// consistent atomics: it is counted, or it sees the flag).
		s.dispatchShut.Store(true)
		err = s.drainDispatches(ctx)
	}
	if err != nil {
		// Counted by the first call that gives up: a concurrent or later
		// call would count the same handlers again.
		if n := s.stats.inFlight.Load(); n > 0 && s.cutCounted.CompareAndSwap(false, true) {
			s.stats.shutdownCut.Add(uint64(n))
		}
		s.forceClose()
	}
	s.cancelBase() // closed: later dispatches are refused
	s.serving.Wait()
	s.mon.shutdown()
	return err
}

// isDone reports whether ch is closed.
func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// runHooks runs the OnShutdown hooks (transports stop taking messages) and
// waits for them; ctx ending does not stop the wait, it tells the hooks to
// hurry (they must return promptly then).
func (s *Server) runHooks(ctx context.Context, hooks []func(context.Context)) {
	var wg sync.WaitGroup
	for _, f := range hooks {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	wg.Wait()
}

// Close closes the server at once: listeners, connections and handler
// contexts. Replies not yet written are lost; prefer Shutdown.
func (s *Server) Close() error {
	_, hooks, hooksDone, first := s.beginClose(nil)
	if first {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s.runHooks(ctx, hooks)
		close(hooksDone)
	} else {
		// A Shutdown is running the hooks: they are told to stop now.
		s.mu.Lock()
		if s.hooksCancel != nil {
			s.hooksCancel()
		}
		s.mu.Unlock()
	}
	s.forceClose()
	s.serving.Wait()
	s.mon.shutdown()
	return nil
}

// beginClose marks the server closing and closes its listeners; it returns
// the connections open at that moment, and the OnShutdown hooks with the
// channel to close once they returned. first is true for the call that
// must run them: the first.
func (s *Server) beginClose(hooksCancel context.CancelFunc) (conns []*conn, hooks []func(context.Context), hooksDone chan struct{}, first bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closing {
		first = true
		hooks = s.onShutdown
		s.hooksDone = make(chan struct{})
		s.hooksCancel = hooksCancel
		s.closing = true
		close(s.closed)
		if !s.started { // nothing runs the monitor's loop: let shutdown() return
			s.started = true
			close(s.mon.done)
		}
	}
	for ln := range s.listeners {
		ln.Close()
		delete(s.listeners, ln)
	}
	return s.connsLocked(), hooks, s.hooksDone, first
}

// connsLocked returns every connection, open or closing; s.mu is held.
func (s *Server) connsLocked() []*conn {
	conns := make([]*conn, 0, len(s.connList)+len(s.closingSet)+len(s.detached))
	conns = append(conns, s.connList...)
	for c := range s.closingSet {
		conns = append(conns, c)
	}
	for c := range s.detached {
		conns = append(conns, c)
	}
	return conns
}

// forceClose closes every connection, then cancels every handler: in that
// order, so that what handlers answer to their cancellation ("Server
// shutting down") does not reach peers whose connections are being cut
// (their callers see the connection lost, as Close says). Admission is
// closed already (beginClose), so the list is complete.
func (s *Server) forceClose() {
	// Before the sockets close: a reader that finds its socket closed
	// must not go on through the frames its chunk still holds (up to
	// 1 MiB of them), running handlers whose replies cannot be written,
	// after Close has returned.
	s.forced.Store(true)
	s.mu.Lock()
	conns := s.connsLocked()
	s.mu.Unlock()
	for _, c := range conns {
		// Beneath TLS: tls.Conn.Close would first send close_notify, and
		// to a peer that stopped reading that waits crypto/tls's 5 s, one
		// connection after another, past Shutdown's deadline.
		netConnBeneath(c.nc).Close()
	}
	s.cancelBase()
	for _, c := range conns {
		c.cancel()
	}
}

// transportsSnapshot splits the totals by transport: TCP has the rest, so
// its requests cost no counter of their own.
func (s *Server) transportsSnapshot(requests, events uint64) []TransportMetrics {
	s.mu.Lock()
	ts := append([]*transportStats(nil), s.transports...)
	s.mu.Unlock()
	out := []TransportMetrics{{Transport: "tcp"}}
	var r, e uint64
	for _, t := range ts {
		tm := TransportMetrics{Transport: t.name, Requests: t.requests.Load(), Events: t.events.Load()}
		r, e = r+tm.Requests, e+tm.Events
		out = append(out, tm)
	}
	// A message is counted in its transport's row just before the totals,
	// and the totals were read first: what is left for TCP can fall short
	// of its count for that moment, never exceed it. It is a counter
	// (Prometheus reads a drop as a reset), so it reports the most it has
	// shown.
	out[0].Requests = atomicMax(&s.tcpRequests, requests-min(r, requests))
	out[0].Events = atomicMax(&s.tcpEvents, events-min(e, events))
	return out
}

// atomicMax raises v to at least x and returns what it then holds.
func atomicMax(v *atomic.Uint64, x uint64) uint64 {
	for {
		old := v.Load()
		if old >= x {
			return old
		}
		if v.CompareAndSwap(old, x) {
			return x
		}
	}
}

// GetMetrics returns a snapshot of the server's counters.
func (s *Server) GetMetrics() Metrics {
	m := s.stats.snapshot(s.router)
	m.Limits = s.limitsSnapshot()
	m.Transports = s.transportsSnapshot(m.Requests, m.Events)
	return m
}
