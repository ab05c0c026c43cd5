package rpc

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/msgpattern/msgpattern/pattern"
	"github.com/msgpattern/msgpattern/wire"
)

// The transport seam. A transport moves packets between peers and a
// Server's dispatch core: TCP is built in (conn.go), package natsrpc serves
// over NATS. For each packet it receives, a transport calls the core —
// [Server.Dispatch], or, for TCP, the same intake with its zero-copy write
// buffer — and the core applies every policy that is not about the
// transport: a missing pattern, no handler, rate limits, the request's
// deadline (answered at the deadline even when the handler ignores it),
// retries, middleware, metrics and draining at shutdown. The transport
// writes the replies the core hands it, and reports back when it cannot.

// Peer is where a transport's messages come from: a TCP connection, or, on
// NATS, one requesting connection. It carries the per-peer rate limit
// (Config.RateLimitPerSec) and what [Request.RemoteAddr] and
// [Request.Transport] report. Make one with [Server.NewPeer] and pass it
// with every message from that peer.
type Peer struct {
	addr      net.Addr
	transport string
	limiter   *rate.Limiter // nil when per-peer rate limiting is off
	// limitMu makes allow's look at the peer's bucket, the shared bucket's
	// take and the peer's take one step when a transport dispatches one
	// peer's messages concurrently (NATS): else requests its own bucket
	// refuses could each spend a token of the shared one.
	limitMu sync.Mutex
	stats   *transportStats // nil for TCP, whose counts are the rest
}

// NewPeer returns a peer of the named transport ("nats", …) with address
// addr (nil when the transport has none), with a rate limiter of its own.
func (s *Server) NewPeer(transport string, addr net.Addr) *Peer {
	return &Peer{addr: addr, transport: transport, limiter: s.newPeerLimiter(), stats: s.transportStats(transport)}
}

func (s *Server) newPeerLimiter() *rate.Limiter {
	if s.cfg.RateLimitPerSec <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(s.cfg.RateLimitPerSec), max(s.cfg.RateLimitBurst, 1))
}

// ReplyWriter carries one message's reply back to its caller; a transport
// implements it. The core calls WriteReply with no lock held, from one
// goroutine at a time for a given message, in order.
type ReplyWriter interface {
	// WriteReply sends one reply packet: the JSON a NestJS peer expects,
	// unframed ({"response":…,"id":…}, {"err":…,"isDisposed":true,"id":…},
	// …). last marks the packet that completes the reply. It may block
	// (backpressure). An error means the caller cannot be reached: the
	// core writes nothing more for the message and cancels the handler's
	// context.
	WriteReply(packet []byte, last bool) error
}

// Message is one packet a transport received, for [Server.Dispatch].
type Message struct {
	// Packet is the JSON of the NestJS packet: {"pattern":…,"data":…,
	// "id":…} plus NestJS 12's "metadata". The transport must not modify
	// or reuse it once passed to Dispatch, not even after Dispatch
	// returns: handlers (and event handlers still running) may keep slices
	// of it, and a Request's raw members stay valid while referenced.
	Packet []byte
	// Route, when set, is the route key the transport matched, and the
	// message is routed by it instead of the packet's pattern (NestJS's
	// NATS server routes by subject); the packet then need not carry a
	// pattern.
	Route string
	// Peer is where the message came from (see [Server.NewPeer]); nil
	// means an anonymous peer with no rate limit of its own.
	Peer *Peer
	// Header holds the transport's message headers, if any, for
	// [Request.Header], which hands this map to handlers: like Packet, it
	// is not modified once passed to Dispatch.
	Header map[string][]string
	// External, with Route set, takes a Packet that is not a NestJS packet
	// — JSON that is not an object, or an object with neither a "pattern"
	// nor a "data" member — as an event whose data is the whole Packet,
	// as NestJS's NATS server does with a message a plain NATS client
	// published to a pattern's subject (an "id" member does not make it a
	// request then).
	External bool
}

// ErrShuttingDown is returned by Dispatch once the server is closed (Close,
// Shutdown's context ended, or Shutdown's drain of the dispatches in
// progress completed): the message was answered with
// {"status":"error","message":"Server shutting down"}.
var ErrShuttingDown = errors.New("rpc: server shutting down")

// ErrOverBudget is returned by AcquireMemory when the server's
// MemoryBudget did not free up in time.
var ErrOverBudget = errors.New("rpc: server memory budget exhausted")

// AcquireMemory takes n bytes of the server's MemoryBudget for a message a
// transport holds while Dispatch serves it (a NATS message's payload), as
// the TCP transport does for its frames. When they are not there it waits,
// not taking the next message meanwhile (backpressure), until other
// messages give bytes back, ctx ends or FrameTimeout passes; then it
// returns ErrOverBudget (or ctx's error) and the message should be dropped.
// Give the bytes back with ReleaseMemory once Dispatch returns.
func (s *Server) AcquireMemory(ctx context.Context, n int) error {
	if ok, _ := s.takeBudget(int64(n), ctx.Done(), nil); !ok {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.stats.overBudget.Add(1)
		return ErrOverBudget
	}
	return nil
}

// takeBudget takes n bytes of the memory budget, waiting while they are
// not there (counted as a budget pause) until FrameTimeout passes or stop1
// or stop2 closes. It reports whether it took them, and whether it waited.
func (s *Server) takeBudget(n int64, stop1, stop2 <-chan struct{}) (ok, waited bool) {
	if s.budget.tryReserve(n) {
		return true, false
	}
	s.stats.budgetPauses.Add(1)
	s.shed(n) // the peers holding replies they do not take go first
	return s.budget.reserve(n, s.cfg.frameTimeout(), stop1, stop2), true
}

// ReleaseMemory gives back n bytes taken by AcquireMemory.
func (s *Server) ReleaseMemory(n int) {
	if n > 0 {
		s.budget.charge(-int64(n))
	}
}

// Dispatch serves one message in the calling goroutine: it decodes the
// packet, applies the server's policies, runs the handler (with its
// middleware, retries and deadline) and writes the reply through w, then
// returns. A transport calls it from a goroutine of its own per message
// (and bounds how many it runs) when requests must run concurrently. It
// returns an error only when the message was not served: a packet that is
// not valid JSON ([wire.ErrSyntax], [wire.ErrNotEnded], [wire.ErrTooDeep])
// or not a JSON object ([wire.ErrNotObject]; unless External takes it),
// counted bad_frame; or a server shutting down ([ErrShuttingDown],
// answered as such).
// Everything else — no handler, a rate limit, a handler's error — is
// answered to the caller and counted, as on TCP.
//
// A handler that calls runtime.Goexit is answered as a panic, and then
// ends the goroutine that called Dispatch too: a transport releases what
// it holds for the message (a worker slot, a memory charge) in a defer.
//
// The deadline is armed at once: a request still running at it is
// answered with the timeout error at the deadline. ctx, when it ends,
// cancels the handler's context (a transport's connection closing); a ctx
// ended already makes the handler start with its context ended.
func (s *Server) Dispatch(ctx context.Context, m Message, w ReplyWriter) error {
	start := monotime()
	peer := m.Peer
	if peer == nil {
		peer = s.unnamedPeer()
	}
	p, err := wire.ParseRequest(m.Packet, s.cfg.MaxDepth)
	if m.External && m.Route != "" && (errors.Is(err, wire.ErrNotObject) || err == nil && p.Pattern == nil && p.Data == nil) {
		p, err = wire.Packet{Data: bytes.TrimSpace(m.Packet)}, nil
	}
	if err != nil {
		s.badPacket(peer, err, len(m.Packet))
		return err
	}
	t := &packetTarget{w: w}
	if !s.enterDispatch() {
		s.stats.shuttingDown.Add(1)
		if p.ID != nil {
			t.writePacket(func(dst []byte, f wire.Framing) []byte {
				return wire.AppendError(dst, f, appendStatusError(nil, "Server shutting down"), p.ID)
			})
			t.commit(nil)
		}
		return ErrShuttingDown
	}
	defer s.exitDispatch()
	var route []byte
	if m.Route != "" {
		route = []byte(m.Route)
	}
	rc, rt := s.intake(&p, route, peer, t, start, nil)
	if rc == nil {
		t.commit(nil)
		return nil
	}
	rc.req.header = m.Header
	// The handler's context ends with the server's, with ctx, and when the
	// caller cannot be reached (a failed WriteReply).
	pctx, cancel := context.WithCancel(s.baseCtx)
	defer cancel()
	if ctx != nil && ctx.Done() != nil {
		stop := context.AfterFunc(ctx, cancel)
		defer stop()
		if ctx.Err() != nil {
			// Ended already: AfterFunc cancels on a goroutine of its own,
			// which the handler would race. It starts cancelled, as a TCP
			// request read before its peer's end does.
			cancel()
		}
	}
	rc.parent, t.cancel = pctx, cancel
	s.stats.inFlight.Add(1)
	s.disp.prepare(rc, rt, t, start)
	rc.armTimeout()
	// Deferred, so that a handler calling runtime.Goexit (which serve
	// answers) still has its reply written and is counted out.
	defer func() {
		t.finish()
		s.stats.inFlight.Add(-1)
	}()
	s.disp.serve(rc, rt)
	return nil
}

// unnamedPeer is the peer of messages dispatched without one: transport
// "other", counted in its own row of the metrics.
func (s *Server) unnamedPeer() *Peer {
	if p := s.otherPeer.Load(); p != nil {
		return p
	}
	s.otherPeer.CompareAndSwap(nil, &Peer{transport: "other", stats: s.transportStats("other")})
	return s.otherPeer.Load()
}

// enterDispatch counts a dispatch in, unless the server has been closed
// (Close, or Shutdown's context ended). While Shutdown drains, messages
// still come in: those a transport received before it stopped taking new
// ones (its OnShutdown hook) are served, as TCP serves the frames it has
// read. Shutdown waits for the count to drop to zero.
func (s *Server) enterDispatch() bool {
	s.dispatching.Add(1)
	if s.dispatchShut.Load() || s.baseCtx.Err() != nil {
		s.exitDispatch()
		return false
	}
	return true
}

func (s *Server) exitDispatch() {
	if s.dispatching.Add(-1) == 0 {
		select {
		case s.dispatchIdle <- struct{}{}:
		default:
		}
	}
}

// drainDispatches waits until no dispatch is in progress, or ctx ends.
func (s *Server) drainDispatches(ctx context.Context) error {
	for s.dispatching.Load() > 0 {
		select {
		case <-s.dispatchIdle:
			// One signal for any number of waiters (concurrent
			// Shutdowns): pass it on. A signal left over is harmless:
			// the count is looked at again before waiting.
			if s.dispatching.Load() == 0 {
				select {
				case s.dispatchIdle <- struct{}{}:
				default:
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// OnShutdown registers f to be called when Shutdown or Close begins: a
// transport stops taking new messages there and hands those it already
// received to Dispatch (NATS: drains its subscriptions), then returns.
// f must not return before every such message's Dispatch call has begun: a
// transport that dispatches from goroutines of its own waits for them (as
// natsrpc waits for its workers), since once the hooks have returned and
// no dispatch is in progress, Dispatch refuses (ErrShuttingDown).
// Shutdown calls the hooks concurrently, each with Shutdown's context (a
// Close during them ends it; Close's own: an ended one), waits for them,
// then for the dispatches in progress. So f must not call Shutdown: that
// call would wait for the hooks, f among them, until its own ctx ended.
// Once Shutdown or Close has begun, f is not registered and OnShutdown
// returns ErrServerClosed: the transport must not start.
func (s *Server) OnShutdown(f func(ctx context.Context)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return ErrServerClosed
	}
	s.onShutdown = append(s.onShutdown, f)
	return nil
}

// badPacket counts and logs a packet that is not valid JSON.
func (s *Server) badPacket(p *Peer, err error, n int) {
	s.stats.badFrame.Add(1)
	s.limit.log(s.log, slog.LevelWarn, "skipping invalid frame", "remote", p.addr, "transport", p.transport, "err", err, "len", n)
}

// intake applies the policy that is not about the transport to a parsed
// packet: a request without a pattern is answered with an error, one over
// a rate limit is refused, one that matches no handler gets NestJS's
// no-handler reply (events are dropped); each is counted. It returns the
// request to run and its route, or nil when the packet was answered or
// dropped here. routeKey, when not nil, routes the packet instead of its
// pattern. scratch is room for the route key (it may be nil).
func (s *Server) intake(p *wire.Packet, routeKey []byte, peer *Peer, t replyTarget, now int64, scratch []byte) (*requestContext, *route) {
	if routeKey == nil && (len(p.Pattern) == 0 || string(p.Pattern) == `""`) {
		s.stats.badFrame.Add(1)
		if p.ID != nil {
			id := p.ID // captured alone: a closure capturing p would move it to the heap on every call
			t.writePacket(func(dst []byte, f wire.Framing) []byte {
				var buf [64]byte
				return wire.AppendError(dst, f, appendMissingPattern(buf[:0]), id)
			})
		}
		return nil, nil
	}
	if !s.allow(peer, now) {
		// On line framing a message without an id to a message handler is
		// a request (answered, without an id: see below), refused as one.
		if p.ID != nil || t.replyFraming() == wire.NDJSON && s.isMessageRoute(p, routeKey, scratch) {
			s.stats.rateLimited.Add(1)
			id := p.ID
			t.writePacket(func(dst []byte, f wire.Framing) []byte {
				return wire.AppendError(dst, f, rateLimitedError, id)
			})
		} else {
			s.stats.rateLimEvt.Add(1)
		}
		s.limit.log(s.log, slog.LevelWarn, "rate limit exceeded", "remote", peer.addr, "transport", peer.transport)
		return nil, nil
	}
	// routeOf's body, inline: it is over the compiler's inlining budget,
	// and this is every message's path. A longer pattern than mayRoute
	// allows matches no handler; it is not normalized, which costs time
	// by its length (see patternLimit).
	var rt *route
	if routeKey != nil {
		rt = s.router.lookup(routeKey)
	} else if s.router.mayRoute(len(p.Pattern)) {
		if key, ok := pattern.Route(p.Pattern, scratch); ok {
			rt = s.router.lookup(key)
		}
	}
	event := p.ID == nil
	if event && t.replyFraming() == wire.NDJSON && rt != nil && !rt.event {
		// Line framing is for people at a terminal: a request sent without
		// an id to a message handler still gets its reply, without an id.
		event = false
	}
	if rt == nil {
		if event {
			s.stats.noEventHandler.Add(1)
			s.limit.log(s.log, slog.LevelDebug, "no handler for event", "pattern", peerText(p.Pattern), "remote", peer.addr)
		} else {
			s.stats.noHandler.Add(1)
			id := p.ID
			t.writePacket(func(dst []byte, f wire.Framing) []byte { return wire.AppendNoHandler(dst, f, id) })
		}
		return nil, nil
	}
	data := p.Data
	if data == nil {
		data = []byte("null")
	}
	pat := p.Pattern
	if len(pat) == 0 {
		pat = wire.AppendString(nil, rt.key)
	}
	rc := &requestContext{parent: s.baseCtx}
	rc.req = Request{
		Pattern:     pat,
		Route:       rt.key,
		Data:        data,
		ID:          p.ID,
		metadataRaw: p.Metadata,
		peer:        peer,
		decoder:     s.cfg.Decoder,
		event:       event,
	}
	return rc, rt
}

// routeOf finds the route of p (of routeKey when it is not nil), or nil.
func (s *Server) routeOf(p *wire.Packet, routeKey, scratch []byte) *route {
	if routeKey != nil {
		return s.router.lookup(routeKey)
	}
	if s.router.mayRoute(len(p.Pattern)) {
		// A longer pattern matches no handler; it is not normalized, which
		// costs time by its length (see patternLimit).
		if key, ok := pattern.Route(p.Pattern, scratch); ok {
			return s.router.lookup(key)
		}
	}
	return nil
}

// isMessageRoute reports whether p is routed to a message (not event)
// handler.
func (s *Server) isMessageRoute(p *wire.Packet, routeKey, scratch []byte) bool {
	rt := s.routeOf(p, routeKey, scratch)
	return rt != nil && !rt.event
}

// allow applies the peer's and the server's rate limits.
func (s *Server) allow(p *Peer, now int64) bool {
	if p.limiter == nil && s.limiter == nil {
		return true
	}
	t := monoTime(now)
	if s.limiter == nil {
		return p.limiter.AllowN(t, 1)
	}
	// With both limits, the peer's own token is taken only once the shared
	// bucket let the request through: a request refused by the shared
	// bucket is not run, and must not spend the peer's own budget.
	if p.limiter != nil {
		p.limitMu.Lock()
		defer p.limitMu.Unlock()
	}
	if p.limiter != nil && p.limiter.TokensAt(t) < 1 {
		return false
	}
	// The shared bucket takes the time of now, not of the read: a request
	// served late (behind MaxInFlight) carries its read's time, and an
	// earlier time moves the bucket back, so that the next connection's
	// request found it refilled (68 requests passed a limit of 36). One
	// connection's reads never go back in time: its own bucket may.
	if !s.limiter.AllowN(monoTime(monotime()), 1) {
		return false
	}
	return p.limiter == nil || p.limiter.AllowN(t, 1)
}

// rateLimitedError is the error value of a request refused by a rate limit.
var rateLimitedError = []byte(`{"status":"error","message":"Rate limit exceeded"}`)

// packetTarget is the replyTarget of a message dispatched through
// Dispatch: packets are queued, unframed, under the request's lock and
// handed to the transport's ReplyWriter by commit, in order, under a lock
// of the target's own (wmu). WriteReply may block (backpressure), so the
// queue has a lock of its own (mu) that is never held across it: the
// request's lock, which the timeout timer and the context's Err and Done
// take, never waits for a transport's write. A stream's latest value is
// held back for holdBack, so that a completion that follows at once rides
// on it, as NestJS (and our TCP transport, whose writes wait for the
// reader's flush) put it on the wire:
// {"response":3,"isDisposed":true,…} rather than a value and then
// {"isDisposed":true,…}.
type packetTarget struct {
	w      ReplyWriter
	cancel context.CancelFunc // ends the handler's context when the caller is gone

	wmu sync.Mutex // held across WriteReply: one at a time, in order

	mu     sync.Mutex // guards what follows; never held across WriteReply
	queue  [][]byte   // packets not yet written
	lasts  []bool
	broken bool
	sent   uint64      // packets taken off the queue to be written: a mark tells by it whether its packet left
	hold   *time.Timer // writes a held-back value
}

// holdBack is how long a stream's latest value waits for the next packet.
const holdBack = 200 * time.Microsecond

func (t *packetTarget) replyFraming() wire.Framing { return wire.Unframed }

// awaitRoom: WriteReply, called by commit, is the transport's backpressure.
func (t *packetTarget) awaitRoom(*requestContext) error { return nil }

// push queues a packet; after a failed WriteReply it drops it and reports
// false: the caller is gone.
func (t *packetTarget) push(b []byte, last bool) (replyMark, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.broken {
		return replyMark{}, false
	}
	t.queue = append(t.queue, b)
	t.lasts = append(t.lasts, last)
	// gen identifies the packet: its number among all packets ever queued.
	return replyMark{gen: t.sent + uint64(len(t.queue)), end: len(b)}, true
}

func (t *packetTarget) writePacket(build func(dst []byte, f wire.Framing) []byte) {
	t.push(build(nil, wire.Unframed), true)
}

func (t *packetTarget) writeValue(rc *requestContext, v any) (replyMark, error) {
	b, err := appendReplyValue(nil, wire.Unframed, v, rc.req.ID, false)
	if err != nil {
		return replyMark{}, err
	}
	m, ok := t.push(b, false)
	if !ok {
		// As over TCP: a stream handler that ignores its context must
		// still stop, rather than run on for nothing.
		return replyMark{}, ErrCallerGone
	}
	return m, nil
}

func (t *packetTarget) writeLast(rc *requestContext, v any) error {
	b, err := appendReplyValue(nil, wire.Unframed, v, rc.req.ID, true)
	if err != nil {
		return err
	}
	t.push(b, true)
	return nil
}

func (t *packetTarget) writeEnd(rc *requestContext, last replyMark) {
	t.mu.Lock()
	if n := len(t.queue); last.end > 0 && n > 0 && t.sent+uint64(n) == last.gen {
		// The last value has not left: the completion rides on it.
		t.queue[n-1] = wire.MarkDisposed(t.queue[n-1], wire.Unframed, 0, rc.req.ID)
		t.lasts[n-1] = true
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	t.push(wire.AppendDisposed(nil, wire.Unframed, rc.req.ID), true)
}

func (t *packetTarget) writeError(rc *requestContext, errJSON []byte) {
	t.push(wire.AppendError(nil, wire.Unframed, errJSON, rc.req.ID), true)
}

// commit writes the queued packets, in order, outside the request's lock,
// but holds back a last packet that is a stream's value (see holdBack).
func (t *packetTarget) commit(*requestContext) { t.writeOut(true) }

// release writes a value held back for holdBack.
func (t *packetTarget) release() { t.writeOut(false) }

// finish writes anything left (Dispatch returns only after the reply is out).
func (t *packetTarget) finish() {
	t.mu.Lock()
	if t.hold != nil {
		t.hold.Stop()
	}
	t.mu.Unlock()
	t.writeOut(false)
}

// writeOut writes the queue. Each packet is taken off it under mu and
// written under wmu alone, so that push never waits for a WriteReply.
func (t *packetTarget) writeOut(holdTail bool) {
	t.wmu.Lock()
	broke := false
	for !broke {
		t.mu.Lock()
		if len(t.queue) == 0 || t.broken {
			t.mu.Unlock()
			break
		}
		if holdTail && len(t.queue) == 1 && !t.lasts[0] {
			if t.hold == nil {
				t.hold = time.AfterFunc(holdBack, t.release)
			} else {
				t.hold.Reset(holdBack)
			}
			t.mu.Unlock()
			break
		}
		b, last := t.queue[0], t.lasts[0]
		t.queue, t.lasts = t.queue[1:], t.lasts[1:]
		t.sent++ // counted as it leaves the queue: writeEnd no longer finds it there
		t.mu.Unlock()
		if err := t.w.WriteReply(b, last); err != nil {
			t.mu.Lock()
			t.broken = true
			t.queue, t.lasts = nil, nil
			t.mu.Unlock()
			broke = true
		}
	}
	t.wmu.Unlock()
	if broke && t.cancel != nil {
		t.cancel() // outside both locks: ending the context runs its AfterFuncs
	}
}

// statsOf returns p's transport counters: nil for TCP, or for no peer.
func (p *Peer) statsOf() *transportStats {
	if p == nil {
		return nil
	}
	return p.stats
}

// transportStats count the messages of one transport other than TCP.
type transportStats struct {
	name             string
	requests, events atomic.Uint64
}

// transportStats returns the counters of the named transport, made on
// first use; nil for "tcp", whose row is what the others leave (a
// transport naming its peers "tcp" is counted there, not listed twice).
func (s *Server) transportStats(name string) *transportStats {
	if name == "tcp" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ts := range s.transports {
		if ts.name == name {
			return ts
		}
	}
	ts := &transportStats{name: name}
	s.transports = append(s.transports, ts)
	return ts
}
