package natsrpc

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/rpc"
	"github.com/msgpattern/msgpattern/wire"
)

// Server serves an rpc.Server's handlers over one NATS connection. Make one
// with [Serve] (your connection) or [Connect] (dialled for you). The same
// rpc.Server may serve TCP at the same time.
type Server struct {
	rpc   *rpc.Server
	nc    *nats.Conn
	owned bool // nc was dialled by Connect: closed with the Server
	opts  options
	log   *slog.Logger

	slots   chan struct{} // one per worker goroutine: its capacity is the concurrency cap
	work    chan job      // hands a message to an idle worker
	drained chan struct{} // closed once the subscriptions are drained
	ctx     context.Context
	cancel  context.CancelFunc
	running sync.WaitGroup // worker goroutines
	workers atomic.Int64   // worker goroutines running (running's count)
	busy    atomic.Int64   // workers serving a message, not idle; grows only under startMu while !waiting
	// waiting is set, under startMu, once Shutdown waits for the workers:
	// a callback still running then (a drain cut short by ctx) starts no
	// worker, as a WaitGroup must not grow from zero while it is waited on.
	startMu sync.Mutex
	waiting bool

	dropCheck  atomic.Int64 // unix ns of the next look at Dropped
	dropLogged atomic.Int64 // Dropped when last logged

	mu       sync.Mutex
	subs     []*nats.Subscription
	subjects []subject
	peers    map[string]*rpc.Peer
	anyPeer  *rpc.Peer
	evtPeer  *rpc.Peer
	stopped  bool

	disc *discovery

	// status tells followMaxPayload of each (re)connection, whose NATS
	// server may have another max_payload; removed by Shutdown.
	status chan nats.Status

	// self is what the rpc.Server's OnShutdown hook holds: cleared once
	// this Server has stopped and its workers are done, so that a
	// long-lived rpc.Server does not keep every natsrpc.Server it served.
	self *atomic.Pointer[Server]
}

// subject is one subscription: the subject and the route key it serves.
type subject struct {
	name  string
	route string
	event bool
}

// Serve subscribes to a subject per pattern registered on srv, on nc, and
// serves the messages with srv's handlers until srv shuts down (or
// [Server.Shutdown]). It fails, subscribing nothing, if a route key is not
// a valid NATS subject, and with rpc.ErrServerClosed once srv's Shutdown or
// Close has begun. nc stays the caller's: it is not closed.
func Serve(srv *rpc.Server, nc *nats.Conn, opts ...Option) (*Server, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.err != nil {
		return nil, o.err
	}
	return serve(srv, nc, false, o)
}

// Connect dials the NATS server at url (with the connection options among
// opts: [Credentials], [NKeySeedFile], [TLS], [WithNATSOptions]; it
// reconnects forever) and serves srv's handlers on it as [Serve] does. The
// connection is closed with the Server.
func Connect(srv *rpc.Server, url string, opts ...Option) (*Server, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if srv.Health() == "draining" {
		// Shutdown or Close has begun: dial nothing (serve would refuse
		// after the dial, which may fail first and hide why).
		return nil, rpc.ErrServerClosed
	}
	nc, err := o.connect(url)
	if err != nil {
		return nil, err
	}
	s, err := serve(srv, nc, true, o)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return s, nil
}

func serve(srv *rpc.Server, nc *nats.Conn, owned bool, o options) (*Server, error) {
	subjects, err := subjectsOf(srv.Router().Routes())
	if err != nil {
		return nil, err
	}
	if err := checkServiceName(o.service.name); err != nil {
		return nil, err
	}
	n := o.maxParallel
	if n <= 0 {
		n = srv.Config().MaxHandlers
		if n <= 0 {
			n = rpc.DefaultMaxHandlers
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		rpc: srv, nc: nc, owned: owned, opts: o, log: srv.Logger(),
		slots: make(chan struct{}, n), work: make(chan job), drained: make(chan struct{}), ctx: ctx, cancel: cancel,
		subjects: subjects, peers: map[string]*rpc.Peer{},
		anyPeer: srv.NewPeer("nats", nil), evtPeer: srv.NewPeer("nats", nil),
	}
	s.disc = newDiscovery(s)
	// The hook is registered first, so that nothing is subscribed for a
	// server already shut down; s.mu, held while the subscriptions are
	// made, keeps a Shutdown that begins meanwhile waiting for them. The
	// flush that confirms them waits on the network (10 s while NATS is
	// away): it is done without the lock, which Shutdown takes.
	s.self = new(atomic.Pointer[Server])
	s.self.Store(s)
	self := s.self
	s.mu.Lock()
	if err := srv.OnShutdown(func(ctx context.Context) {
		if s := self.Load(); s != nil {
			s.Shutdown(ctx)
		}
	}); err != nil {
		s.mu.Unlock()
		cancel()
		return nil, err
	}
	err = s.subscribe()
	if err == nil {
		s.status = nc.StatusChanged(nats.CONNECTED, nats.CLOSED)
		go s.followMaxPayload(s.status, nc.MaxPayload())
	}
	s.mu.Unlock()
	if err == nil {
		if err = s.nc.Flush(); err != nil {
			err = fmt.Errorf("natsrpc: subscribing: %w", err)
		}
	}
	if err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.stopped { // else a Shutdown came meanwhile and drains what was made
			// Nothing of a failed Serve may stay on a connection the
			// caller keeps: a service that never started must not answer
			// discovery.
			s.disc.stop()
			s.unsubscribe()
			s.stopFollowing()
			s.stopped = true // its hook has nothing to do
			close(s.drained)
			cancel()
			s.self.Store(nil)
		}
		return nil, err
	}
	return s, nil
}

// subscribe makes the subscriptions and discovery's; s.mu is held.
func (s *Server) subscribe() error {
	msgs, bytes := pendingLimits(s.rpc.Config().MemoryBudget, len(s.subjects), s.nc.MaxPayload())
	for _, sj := range s.subjects {
		sub, err := s.nc.QueueSubscribe(sj.name, s.opts.queue, s.handler(sj))
		if err != nil {
			return fmt.Errorf("natsrpc: subscribe to %q: %w", sj.name, err)
		}
		s.subs = append(s.subs, sub)
		// Behind the concurrency cap, nats.go queues what it reads for the
		// subscription; past these limits it drops (slow consumer).
		if err := sub.SetPendingLimits(msgs, bytes); err != nil {
			return fmt.Errorf("natsrpc: subscribe to %q: %w", sj.name, err)
		}
	}
	return s.disc.start()
}

// followMaxPayload sets the subscriptions' pending limits again when the
// connection reconnects to a NATS server with another max_payload: each
// must stay at least max_payload, or nats.go would drop every message
// larger than the old one as a slow consumer. It ends when Shutdown
// removes ch, or when the connection is closed (nats.go does not close ch
// then).
func (s *Server) followMaxPayload(ch chan nats.Status, maxPayload int64) {
	for st := range ch {
		if st == nats.CLOSED {
			return
		}
		mp := s.nc.MaxPayload()
		if mp == maxPayload {
			continue
		}
		maxPayload = mp
		s.mu.Lock()
		msgs, bytes := pendingLimits(s.rpc.Config().MemoryBudget, len(s.subjects), mp)
		for _, sub := range s.subs {
			sub.SetPendingLimits(msgs, bytes)
		}
		s.mu.Unlock()
	}
}

// stopFollowing ends followMaxPayload; s.mu is held.
func (s *Server) stopFollowing() {
	if s.status != nil {
		s.nc.RemoveStatusListener(s.status)
		s.status = nil
	}
}

// pendingLimits returns the pending limits of each of subs subscriptions:
// together a quarter of the memory budget, each at least maxPayload (so
// that a message always fits) and at most nats.go's defaults, which stay
// when the budget is off. nats.go counts only data and encoded headers as
// bytes: half the share goes to them, and the message limit gives the
// other half to the rest, pendingMsgOverhead a message (its subject and
// reply subject, which the sender chooses, up to NATS's 4 KiB control
// line).
func pendingLimits(budget int64, subs int, maxPayload int64) (msgs, bytes int) {
	if budget < 0 {
		return nats.DefaultSubPendingMsgsLimit, nats.DefaultSubPendingBytesLimit
	}
	if maxPayload <= 0 {
		maxPayload = 1 << 20 // NATS's default max_payload
	}
	b := min(max(budget/8/int64(max(subs, 1)), maxPayload), nats.DefaultSubPendingBytesLimit)
	return pendingMsgsFor(b), int(b)
}

// pendingMsgsFor is the message limit that goes with a pending byte limit
// of b: the same again for subjects and bookkeeping, pendingMsgOverhead a
// message, at least 64.
func pendingMsgsFor(b int64) int { return max(int(b/pendingMsgOverhead), 64) }

// pendingMsgOverhead is what a pending message may hold beyond its data and
// encoded headers: a subject and reply subject of up to NATS's default
// max_control_line (4 KiB) together, and nats.go's bookkeeping.
const pendingMsgOverhead = 4<<10 + 512

// Dropped returns the messages nats.go dropped from the server's open
// subscriptions (discovery's included) because their pending limits were
// reached (slow consumer;
// see the package documentation). In a queue group, NATS does not deliver
// them to another member: the callers time out.
func (s *Server) Dropped() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	subs := s.subs[:len(s.subs):len(s.subs)]
	if s.disc != nil {
		subs = append(subs, s.disc.subs...)
	}
	var n int64
	for _, sub := range subs {
		if d, err := sub.Dropped(); err == nil {
			n += int64(d)
		}
	}
	return n
}

// logDropped logs, at most once a second, the messages dropped since it
// last did (nats.go reports them to the connection's error handler only
// when a subscription becomes a slow consumer, and Serve's connection is
// the caller's).
func (s *Server) logDropped() {
	now := time.Now().UnixNano()
	next := s.dropCheck.Load()
	if now < next || !s.dropCheck.CompareAndSwap(next, now+int64(time.Second)) {
		return
	}
	total := s.Dropped()
	if prev := s.dropLogged.Swap(total); total > prev {
		s.log.Warn("natsrpc: pending limit reached, messages dropped (slow consumer)", "dropped", total-prev, "total", total)
	}
}

// subjectsOf lists the subscriptions for routes, or the first route that
// cannot be one.
func subjectsOf(routes []rpc.RouteInfo) ([]subject, error) {
	have := map[string]bool{}
	for _, r := range routes {
		have[r.Key] = true
	}
	var out []subject
	for _, r := range routes {
		if err := checkSubject(r.Key); err != nil {
			return nil, fmt.Errorf("natsrpc: pattern %s cannot be a NATS subject: %w", r.Key, err)
		}
		out = append(out, subject{name: r.Key, route: r.Key, event: r.Event})
		if cmd, ok := cmdSubject(r.Key); ok && !have[cmd] {
			out = append(out, subject{name: cmd, route: r.Key, event: r.Event})
		}
	}
	return out, nil
}

// Subjects returns the subjects the server subscribes to.
func (s *Server) Subjects() []string {
	out := make([]string, len(s.subjects))
	for i, sj := range s.subjects {
		out[i] = sj.name
	}
	return out
}

// Conn returns the server's NATS connection.
func (s *Server) Conn() *nats.Conn { return s.nc }

// handler returns the subscription callback of sj. nats.go runs one
// subscription's callbacks one at a time, so each message is handed to a
// worker goroutine: an idle one if there is one, else a new one, up to the
// concurrency cap; at the cap the callback waits, and what arrives
// meanwhile waits in the subscription's pending queue (pendingLimits). Workers outlive their message for a while
// (workerIdle), so a busy service reuses them and their grown stacks rather
// than starting a goroutine per message.
func (s *Server) handler(sj subject) nats.MsgHandler {
	sjp := &sj
	return func(m *nats.Msg) {
		s.logDropped()
		copied := 0
		if !utf8.Valid(m.Data) {
			// Served from a copy decoded as Node.js decodes it, as TCP
			// frames are; charged below with the message (whose Size
			// still counts the original).
			clean := wire.SanitizeUTF8(make([]byte, 0, wire.SanitizedLen(m.Data)), m.Data)
			m.Data, copied = clean, len(clean)
		}
		j := job{sj: sjp, m: m}
		// The whole message is held until its handler returns: headers
		// (Request.Header) as well as the payload.
		if n := msgBytes(m) + copied; n > freeMessageBytes {
			// From the server's memory budget, waited for here, so that
			// the subscription takes no further message meanwhile.
			if err := s.rpc.AcquireMemory(s.ctx, n); err != nil {
				s.log.Debug("natsrpc: message dropped", "subject", m.Subject, "err", err)
				return
			}
			j.charged = n
		}
		select {
		case s.work <- j: // an idle worker takes it
			return
		default:
		}
		// At the cap, wait for whichever comes first: a worker that goes
		// idle, or one that ends and frees its slot. (Waiting for an idle
		// one only would strand the message when the last worker ends
		// just as it is offered.)
		select {
		case s.slots <- struct{}{}:
			s.start(j)
			return
		default:
		}
		select {
		case s.work <- j:
		case s.slots <- struct{}{}:
			s.start(j)
		case <-s.ctx.Done():
			s.rpc.ReleaseMemory(j.charged)
		}
	}
}

// freeMessageBytes is the size a message may have without drawing on the
// server's memory budget: a small request is never held up by large ones.
// Messages held at once are bounded by the worker cap, so these take at
// most the cap × 4 KiB (16 MiB at the default 4096).
const freeMessageBytes = 4 << 10

// msgBytes is what m holds: subject, reply, encoded headers and payload
// (nats.go's Msg.Size), and the decoded headers nats.go keeps beside them.
func msgBytes(m *nats.Msg) int {
	return m.Size() + decodedHeaderBytes(m.Header)
}

// decodedHeaderBytes bounds what nats.go's decoded headers hold: a map of
// string slices, whose entries, string and slice headers cost far more than
// a short header line's bytes (5 to 16 times them, measured, for many short
// lines): 128 bytes per key and 32 per value beyond their text.
func decodedHeaderBytes(h nats.Header) int {
	n := 0
	for k, vs := range h {
		n += len(k) + 128
		for _, v := range vs {
			n += len(v) + 32
		}
	}
	return n
}

// start runs j on a new worker, which holds the slot the caller took;
// once Shutdown waits for the workers, it drops j instead.
func (s *Server) start(j job) {
	s.startMu.Lock()
	if s.waiting {
		s.startMu.Unlock()
		<-s.slots
		s.rpc.ReleaseMemory(j.charged)
		return
	}
	s.running.Add(1)
	s.workers.Add(1)
	s.busy.Add(1)
	s.startMu.Unlock()
	go s.worker(j)
}

// job is one message for a worker.
type job struct {
	sj      *subject
	m       *nats.Msg
	charged int // bytes of the memory budget the message holds
}

// workerIdle is how long a worker waits for another message before it ends.
const workerIdle = 5 * time.Second

func (s *Server) worker(j job) {
	defer s.running.Done()
	defer func() {
		// The last worker of a Server that Shutdown (or Close) stopped
		// waiting for: nothing is left to wait for, the hook may drop it.
		s.startMu.Lock()
		last := s.workers.Add(-1) == 0 && s.waiting
		s.startMu.Unlock()
		if last {
			s.self.Store(nil)
		}
	}()
	defer func() { <-s.slots }()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		s.serveJob(j)
		idle.Reset(workerIdle)
		select {
		case j = <-s.work:
			if !s.take() { // as start drops it
				s.rpc.ReleaseMemory(j.charged)
				return
			}
		case <-idle.C:
			return
		case <-s.drained: // nothing more will come
			return
		case <-s.ctx.Done():
			return
		}
	}
}

// serveJob serves j and gives back what it held. Deferred: a handler that
// calls runtime.Goexit ends the worker here (Dispatch answers it), and its
// message must still leave the memory budget and the busy count.
func (s *Server) serveJob(j job) {
	defer func() {
		s.rpc.ReleaseMemory(j.charged)
		s.busy.Add(-1)
	}()
	s.serveMsg(*j.sj, j.m)
}

// take counts an idle worker busy with a message handed to it, unless
// Shutdown already waits for the workers (then the message is dropped).
func (s *Server) take() bool {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if s.waiting {
		return false
	}
	s.busy.Add(1)
	return true
}

func (s *Server) serveMsg(sj subject, m *nats.Msg) {
	w := &replier{nc: s.nc, subject: m.Reply, sentLine: len(m.Subject) + len(m.Reply) + len("  0")}
	msg := rpc.Message{Packet: m.Data, Route: sj.route, Peer: s.peerOf(m.Reply), Header: m.Header, External: true}
	// Its errors (a bad packet, shutting down) are counted and logged,
	// rate-limited, by Dispatch itself.
	s.rpc.Dispatch(s.ctx, msg, w)
}

// maxPeers bounds the rate-limited peers remembered; past it they are
// forgotten all at once (their buckets start full again).
const maxPeers = 4096

// peerOf returns the rate-limit peer of a message with reply subject
// reply (see the package documentation).
func (s *Server) peerOf(reply string) *rpc.Peer {
	if s.rpc.Config().RateLimitPerSec <= 0 {
		return s.anyPeer
	}
	if reply == "" {
		return s.evtPeer
	}
	key := requesterKey(reply)
	hashed := len(key) > maxPeerKey
	if hashed {
		key = "#" + strconv.FormatUint(maphash.String(peerKeySeed, key), 36)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.peers[key]
	if !ok {
		if len(s.peers) >= maxPeers {
			clear(s.peers)
		}
		p = s.rpc.NewPeer("nats", nil)
		if !hashed {
			// A copy: the key is a substring of the message's reply
			// subject, which it would keep alive (up to 4 KiB each).
			key = strings.Clone(key)
		}
		s.peers[key] = p
	}
	return p
}

// maxPeerKey bounds the keys of remembered peers: a sender chooses its
// reply subjects (up to the NATS server's 4 KiB control line), so a longer
// key is remembered by its hash. The map then holds at most maxPeers keys
// of 64 bytes. (Two senders whose keys' hashes collide share a bucket.)
const maxPeerKey = 64

var peerKeySeed = maphash.MakeSeed()

// requesterKey names the client process behind a reply subject: NATS
// clients make inboxes "_INBOX." + a 22-character NUID whose first 12
// characters are fixed per process.
func requesterKey(reply string) string {
	const prefix = "_INBOX."
	if strings.HasPrefix(reply, prefix) && len(reply) >= len(prefix)+12 {
		return reply[:len(prefix)+12]
	}
	if i := strings.LastIndexByte(reply, '.'); i > 0 {
		return reply[:i]
	}
	return reply
}

// Shutdown stops taking messages — it drains the subscriptions, so that
// new requests go to the other instances of the queue group — serves those
// already received, and returns when they are answered or ctx ends. A
// connection dialled by Connect is then closed. The rpc.Server's Shutdown
// calls it; call it yourself to stop serving NATS alone.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		subs := s.subs
		s.mu.Unlock()
		select { // the first call drains: its messages are still served
		case <-s.drained:
		case <-ctx.Done():
		}
		err := s.wait(ctx)
		if err == nil {
			s.self.Store(nil)
		}
		if ctx.Err() != nil {
			// Close (or a Shutdown whose time is up) while an earlier
			// Shutdown drains or waits: stop now, as the first would
			// have with this ctx, rather than leave it all to that one.
			s.cancel()
			for _, sub := range subs {
				sub.Unsubscribe()
			}
			if s.owned {
				s.nc.Close()
			}
		}
		return err
	}
	s.stopped = true
	s.stopFollowing()
	subs := s.subs
	disc := s.disc.detach()
	s.mu.Unlock()
	for _, sub := range disc {
		sub.Unsubscribe()
	}
	// Draining needs the NATS server. Without it (an outage), a
	// subscription is kept until the messages already received (its
	// pending queue, which Unsubscribe would discard) are handed to
	// workers, then dropped.
	//
	// nats.go subscribes again, on a reconnect, every subscription it
	// still has, a draining one too (without its UNSUB): the NATS server
	// would count it in the queue group again, and once its drain ends
	// nobody reads it, for as long as the connection lasts. So a reconnect
	// during the drain drains again what is left.
	reconnects := s.nc.Stats().Reconnects
	draining := make([]bool, len(subs))
	for i, sub := range subs {
		if ctx.Err() != nil {
			sub.Unsubscribe()
		} else if s.nc.IsConnected() {
			draining[i] = sub.Drain() == nil
		}
	}
	// Drain ends when the messages already delivered have been handed to
	// their callbacks; then nothing more comes, and idle workers may end.
	for i, sub := range subs {
		for sub.IsValid() && ctx.Err() == nil {
			if n := s.nc.Stats().Reconnects; n != reconnects && s.nc.IsConnected() {
				reconnects = n
				for j, sub := range subs[i:] {
					if sub.IsValid() {
						draining[i+j] = sub.Drain() == nil
					}
				}
			}
			if !draining[i] && s.nc.IsConnected() { // reconnected
				draining[i] = sub.Drain() == nil
			}
			if !draining[i] || !s.nc.IsConnected() {
				if n, _, err := sub.Pending(); err != nil || n == 0 {
					break // counts the message in its callback: all handed over
				}
			}
			time.Sleep(time.Millisecond)
		}
		sub.Unsubscribe()
	}
	close(s.drained)
	err := s.wait(ctx)
	if err == nil { // nothing left for the rpc.Server's Shutdown to wait for
		s.self.Store(nil)
	}
	s.cancel()
	if s.owned {
		s.nc.Close()
	}
	return err
}

// wait waits for the messages being served, or ctx.
func (s *Server) wait(ctx context.Context) error {
	s.startMu.Lock()
	s.waiting = true
	s.startMu.Unlock()
	if s.workers.Load() == 0 { // none can start now: nothing to wait for, whatever ctx
		return nil
	}
	done := make(chan struct{})
	go func() { s.running.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		if s.busy.Load() == 0 {
			// Only idle workers, which end now (none takes a message once
			// waiting is set): nothing was cut off.
			return nil
		}
		s.cancel() // handlers are told; a handler that ignores it runs on, unwaited
		if s.owned {
			// The connection closes next: the handlers that stop when told
			// get a moment to publish their "Server shutting down", as
			// their callers have no closing connection to tell them.
			t := time.NewTimer(cancelGrace)
			select {
			case <-done:
			case <-t.C:
			}
			t.Stop()
		}
		return ctx.Err()
	}
}

// cancelGrace is how long a forced stop waits, before it closes the
// connection Connect dialled, for the handlers it cancelled to return.
const cancelGrace = 100 * time.Millisecond

// Close stops at once: subscriptions are dropped, handlers still running
// have their contexts cancelled, and a connection dialled by Connect is
// closed once they have returned (their callers get "Server shutting
// down"), or after 100 ms for those that go on.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Shutdown(ctx)
	return nil
}

func (s *Server) unsubscribe() {
	for _, sub := range s.subs {
		sub.Unsubscribe()
	}
	s.subs = nil
}

// replier is the ReplyWriter of one NATS message: each reply packet is a
// message to the reply subject.
type replier struct {
	nc      *nats.Conn
	subject string
	// sentLine is the least the arguments of the request's own PUB line
	// took ("<subject> <reply> <size>"), which the NATS server accepted.
	sentLine int
}

// fits reports whether a reply of size bytes makes a PUB line the NATS
// server takes: its arguments ("<reply> <size>") within the default
// max_control_line, or no longer than the request's own, which the server
// took. A sender chooses its reply subject, up to a request line that just
// fits: a reply whose size has more digits than the request's subject and
// size would overflow the line, and the NATS server would close the
// serving connection (nats.go does not reconnect after that error).
func (w *replier) fits(size int) bool {
	n := len(w.subject) + 1 + len(strconv.Itoa(size))
	return n <= maxControlLine || n <= w.sentLine
}

// replaceWithError sends, instead of packet, an error reply with msg to
// the same call (when packet is a reply and the error's PUB line fits).
func (w *replier) replaceWithError(packet []byte, msg string) {
	if rep, ok := rpc.ParseReplyPacket(packet); ok {
		if e := errorPacket(msg, rep.ID); w.fits(len(e)) {
			w.nc.Publish(w.subject, e)
		}
	}
}

// errReplySubjectTooLong ends a reply whose PUB line, with the reply
// subject its sender chose, would be too long for the NATS server.
var errReplySubjectTooLong = errors.New("natsrpc: reply subject too long for the reply's NATS control line")

// errReplyTooLarge ends a reply whose packet exceeds max_payload; the
// caller got an error reply instead.
var errReplyTooLarge = errors.New("natsrpc: reply exceeds the NATS server's max_payload")

func (w *replier) WriteReply(packet []byte, last bool) error {
	if w.subject == "" {
		return nil // an event, or a request sent without a reply subject
	}
	if !w.fits(len(packet)) {
		w.replaceWithError(packet, fmt.Sprintf("reply of %d bytes too large for a reply subject of %d bytes (NATS max_control_line)", len(packet), len(w.subject)))
		return errReplySubjectTooLong
	}
	if max := w.nc.MaxPayload(); int64(len(packet)) > max {
		w.replaceWithError(packet, fmt.Sprintf("reply of %d bytes exceeds the NATS server's max_payload of %d bytes", len(packet), max))
		return errReplyTooLarge
	}
	return w.nc.Publish(w.subject, packet)
}

// errorPacket is the error reply {"err":{"status":"error","message":msg},
// "isDisposed":true,"id":id}.
func errorPacket(msg string, id []byte) []byte {
	e := []byte(`{"status":"error","message":`)
	e = wire.AppendString(e, msg)
	e = append(e, '}')
	return wire.AppendError(nil, wire.Unframed, e, id)
}
