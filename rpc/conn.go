package rpc

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/msgpattern/msgpattern/wire"
)

// Read chunk sizes. Frames are sliced out of chunks and handed to handlers
// without a copy, so a chunk is never overwritten once read: when one fills
// up, the unconsumed tail moves to a fresh chunk. Chunks start small and
// grow while reads fill them; an idle connection on a plain socket holds
// none (idle.go), one over TLS its last. Past recvAllowance (64 KiB) a
// chunk grows only from a memory budget at most half used: at 16×64 with
// 4 KiB requests, 256 KiB chunks served 1.2–1.6× as many as 64 KiB ones,
// and 1 MiB ones (more than a connection's 288 KB in flight: fewer chunk
// changes, and a larger live heap, so fewer GC cycles) 1.13–1.2× as many
// again (docs/PERFORMANCE-NOTES.md, item 8).
const (
	minChunk = 512
	maxChunk = 1 << 20
)

// flushThreshold makes the reader flush replies while still working through
// a long pipelined burst, so replies do not pile up unboundedly.
const flushThreshold = 64 << 10

var (
	errDraining         = errors.New("rpc: server shutting down")
	errEvicted          = errors.New("rpc: idle connection evicted to admit a new one")
	errFrameTimeout     = errors.New("rpc: peer went silent in the middle of a frame")
	errFrameTooSlow     = errors.New("rpc: frame arriving slower than MinFrameRate")
	errOverBudget       = ErrOverBudget
	errBadFraming       = errors.New("rpc: first byte is neither a digit nor '{'")
	errHeartbeatTimeout = errors.New("rpc: peer sent no heartbeat within HeartbeatTimeout")
)

// conn is one TCP connection: the transport around the dispatch core.
//
// One goroutine at a time holds the reader role: it reads frames and runs
// their handlers inline. When a handler runs long, the server's monitor
// hands the role to a new goroutine (see handoff.go), so requests on one
// connection run concurrently while fast ones cost no goroutine. A reader
// that ran handlers and finds no input also passes the role on, to wait on
// a goroutine with a small stack (idle.go).
//
// Who owns what:
//   - The reader-role fields below are touched only by the goroutine holding
//     the role; the hand-off (a CAS on busy, then a new goroutine) and
//     going idle (a new goroutine) pass them on with a happens-before edge.
//   - out (the write side) is shared: any goroutine appends under its short
//     lock; the one goroutine that flushes owns the socket's write side and
//     blocks at most WriteTimeout without progress, holding no lock. No
//     lock is ever held across a socket read or write.
//   - The atomics are read by the monitor (busy, seen) and by admit when it
//     looks for an idle connection to evict (inflight, activeAt, midFrame).
//   - quit is closed once, by Shutdown or eviction, to end the reader's
//     waits; ctx is cancelled on disconnect and forced shutdown.
type conn struct {
	srv    *Server
	nc     net.Conn
	remote net.Addr
	peer   Peer            // what the connection's requests report; holds its rate limiter
	ctx    context.Context // cancelled on disconnect and forced shutdown
	cancel context.CancelFunc

	// Reader-role state.
	framing      wire.Framing
	scanner      wire.Scanner
	blankRun     int    // leading blanks of rbuf[r:w] scanned while the framing is unknown
	rbuf         []byte // the current chunk, len == cap
	r, w         int    // rbuf[r:w] is read but not yet consumed
	chunk        int
	held         int       // bytes of rbuf reserved from the server's memory budget
	pin          *chunkPin // held, once a request uses rbuf (see chunkPin)
	peakHeld     int
	scratch      [128]byte
	deadlineKind uint8 // which read deadline is set
	deadlineSet  int64 // monotime when it was set
	deadlineAt   int64 // monotime it falls due
	heartbeats   bool  // the peer sends heartbeats: hold it to HeartbeatTimeout
	readAt       int64 // monotime of the last read
	quietSince   int64 // monotime of the last read that brought bytes, or of a resume
	frameStart   int64 // monotime the incomplete frame in rbuf began arriving; 0 if none
	frameBytes   int   // bytes of it received so far, as credited (creditedBytes)
	lastFrame    int   // bytes of the last complete frame: what the next chunk needs room for

	// Idle reads on a plain socket (idle.go).
	raw        syscall.RawConn    // nil: reads go through nc
	rawRead    func(uintptr) bool // c.readRaw, made once
	idleLoop   func()             // c.readLoop, made once: a go statement on a method value allocates
	flushRest  func()             // has a goroutine of its own flush (readerFlush), made once
	rawN       int                // readRaw's result
	rawErr     error
	rawTry     bool             // readRaw must not wait
	tlsCap     *handshakeCapped // bounds TLS records that carry no data, nil if none
	ranHandler bool             // this reader goroutine ran a handler: its stack may have grown
	served     bool             // the connection has run a handler
	warm       bool             // its requests come close together: the reader waits as it is (idle.go)
	ended      bool             // the peer's stream ended while the reader waited for a slot: what is buffered is served, then the reader finishes
	lingering  bool             // lingeringClose reads: tlsProgress leaves its deadline alone

	busy     atomic.Pointer[requestContext] // the request running inline, nil if none
	seen     *requestContext                // the monitor's last look at busy; the monitor's alone
	deferred *requestContext                // a hand-off the monitor is holding back at MaxHandlers; the monitor's

	inflight atomic.Int32
	events   atomic.Int32  // of inflight, the events: they owe the peer nothing
	slotFree chan struct{} // a handed-off handler finished
	draining atomic.Bool
	evicted  atomic.Bool
	activeAt atomic.Int64 // monotime of the last byte read, or of the accept
	midFrame atomic.Bool  // part of a frame is buffered
	peeking  atomic.Bool  // the reader, waiting for a slot, is blocked reading
	quit     chan struct{}
	quitOnce sync.Once
	// orphaned: the connection was detached with only events running; its
	// reader has exited, and the last of them to return closes it.
	orphaned atomic.Bool

	out batchWriter

	closeOnce sync.Once
	idx       int  // position in the server's connection list, under srv.mu
	listed    bool // counted in the server's connection list, under srv.mu
	closing   bool // in the server's closing set, under srv.mu
	noLinger  bool // evicted past maxClosing: closes without lingering, under srv.mu
	done      chan struct{}
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(s.baseCtx)
	c := &conn{
		srv:      s,
		nc:       nc,
		remote:   nc.RemoteAddr(),
		ctx:      ctx,
		cancel:   cancel,
		chunk:    minChunk * 2,
		slotFree: make(chan struct{}, 1),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	c.quietSince = monotime()
	c.activeAt.Store(c.quietSince)
	c.out = batchWriter{
		nc: nc, bytes: &s.stats.bytesOut,
		timeout: s.cfg.WriteTimeout, maxQueued: s.cfg.maxQueued(),
		budget: s.budget, overBudgetMark: s.readPauseMark, onFail: c.writeFailed,
		onOverBudget: func() { s.shed(0) },
	}
	c.flushRest = func() { go c.flush() }
	c.peer = Peer{addr: c.remote, transport: "tcp", limiter: s.newPeerLimiter()}
	if c.raw = rawConnOf(nc); c.raw != nil {
		c.rawRead, c.idleLoop = c.readRaw, c.readLoop
	}
	return c
}

// stopReading ends the reader's waits and blocking read: for Shutdown
// (draining) and eviction. The reader serves what it has already read.
func (c *conn) stopReading() {
	c.quitOnce.Do(func() {
		close(c.quit)
		// Wake a reader blocked in Read; it sees draining or evicted and
		// finishes. Once only: a later call (a second Shutdown, Shutdown
		// after an eviction) must not cut a lingering close short, which
		// would reset the replies still in the kernel's send queue.
		c.nc.SetReadDeadline(time.Unix(1, 0))
	})
}

// serve is the body of a connection's first goroutine: the TLS handshake,
// if any, then reading.
func (c *conn) serve() {
	if tc, ok := c.nc.(*tls.Conn); ok {
		// A peer that never completes the handshake is held to FrameTimeout.
		ctx, cancel := context.WithCancel(c.ctx)
		if t := c.srv.cfg.frameTimeout(); t > 0 {
			ctx, cancel = context.WithTimeout(c.ctx, t)
		}
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			if c.evicted.Load() {
				// Evicted mid-handshake (its bytes are no activity): counted
				// as any eviction.
				c.srv.stats.evicted.Add(1)
				c.close()
				return
			}
			if c.draining.Load() || c.ctx.Err() != nil {
				// Shutdown or Close interrupted the handshake: not the
				// peer's fault.
				c.close()
				return
			}
			c.srv.stats.framing.Add(1)
			c.srv.limit.log(c.srv.log, slog.LevelWarn, "TLS handshake failed", "remote", c.remote, "err", err)
			c.close()
			return
		}
		c.tlsCap = handshakeDone(tc)
		if c.tlsCap != nil {
			c.tlsCap.onBytes, c.tlsCap.activeFor = c.tlsProgress, int64(c.srv.cfg.FrameTimeout)
		}
	}
	c.readLoop()
}

// readLoop is the body of the goroutine holding the reader role. It returns
// when the connection is finished or when the role was handed off, or
// passed to a fresh goroutine to wait for input.
func (c *conn) readLoop() {
	c.ranHandler = false
	for {
		if err := c.waitForSlot(); err != nil {
			c.finish(err)
			return
		}
		f, err := c.next()
		if err == errGoIdle {
			// Wait for input on a goroutine with a small stack (idle.go).
			c.srv.stats.wentIdle.Add(1)
			go c.idleLoop()
			return
		}
		if err != nil {
			c.finish(err)
			return
		}
		if lost := c.handleFrame(f); lost {
			return
		}
	}
}

// waitForSlot blocks while the connection has MaxInFlight handlers running:
// the socket is not read, so the peer's sends back up (backpressure).
// Meanwhile it still watches the socket, reading only into the room the
// current chunk has left, so that a peer that goes away is noticed and its
// handlers are cancelled at once rather than at their deadline. It returns
// the read error that ended the wait, if one did; the end of the stream
// does not end it (conn.ended): what was read before is still served, one
// slot at a time, unless Close or a forced Shutdown comes first.
func (c *conn) waitForSlot() error {
	max := c.srv.cfg.maxInFlight()
	if c.inflight.Load() < max {
		return nil
	}
	// Replies of handlers that ran inline wait for the reader's flush
	// before it reads, and the wait may last as long as a slow handler.
	c.flush()
	for c.inflight.Load() >= max {
		// A stopped reader waits below for a slot: peek would return at
		// once, and the loop would spin until a handler finished.
		if !c.ended && c.w < len(c.rbuf) && c.stopped() == nil {
			if err := c.peek(max); errors.Is(err, io.EOF) {
				// The peer's stream ended. Its running handlers are told
				// at once, as finish does; the requests it sent before
				// are still served, as they would have been without the
				// pause (started, then cancelled with the others): each
				// starts with its context ended, and an event runs.
				c.ended = true
				c.cancel()
			} else if err != nil {
				return err
			}
			continue
		}
		canceled := c.ctx.Done()
		if c.ended {
			// c.ctx ended with the stream: buffered requests still wait
			// for their slots, but not past Close or a forced Shutdown.
			canceled = c.srv.baseCtx.Done()
		}
		// Not c.quit: a stopped reader still serves what it has buffered,
		// one slot at a time as before (MaxInFlight is a cap, also while
		// Shutdown drains); a forced Shutdown cancels c.ctx.
		select {
		case <-c.slotFree:
		case <-canceled:
			return context.Canceled
		}
	}
	c.resumed()
	return nil
}

// peek reads into the room left in the current chunk while the reader
// waits for a slot; a handler that finishes interrupts the read (see run).
// It returns a read error other than that interruption.
func (c *conn) peek(max int32) error {
	c.peeking.Store(true)
	defer c.peeking.Store(false)
	c.deadlineKind = deadlineStale
	c.nc.SetReadDeadline(time.Time{})
	// After the deadline is cleared: a handler finishing from here on sees
	// peeking and interrupts the read; one that finished before is seen now.
	if c.inflight.Load() < max || c.stopped() != nil {
		return nil
	}
	n, err := c.nc.Read(c.rbuf[c.w:])
	if n > 0 {
		c.readAt = monotime()
		c.received(n)
		return nil
	}
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	return err
}

// resumed is called after the reader paused for the server's own reasons
// (backpressure, memory): the pause must not count against the peer, so
// read deadlines start afresh.
func (c *conn) resumed() {
	c.deadlineKind = deadlineStale
	c.quietSince = monotime()
	if c.frameStart != 0 {
		c.frameStart, c.frameBytes = monotime(), 0
	}
}

// resumeReading takes the reader's role after the monitor held its
// hand-off back at MaxHandlers: the pause was the server's, so the read
// deadlines are renewed first.
func (c *conn) resumeReading() {
	c.resumed()
	c.readLoop()
}

// next returns the next complete frame, reading as needed.
func (c *conn) next() (wire.Frame, error) {
	if c.srv.forced.Load() || c.ended && c.srv.baseCtx.Err() != nil {
		return wire.Frame{}, context.Canceled // closed: what is buffered is not started
	}
	for {
		if c.r < c.w {
			if c.scanner == nil {
				// Blanks may come before the first frame, but no more of
				// them than a frame may hold: they are buffered like one.
				// The run scanned so far is not scanned again.
				f, ok, known := wire.DetectFraming(c.rbuf[c.r+c.blankRun : c.w])
				if ok && !known {
					return wire.Frame{}, errBadFraming
				}
				if ok {
					c.setFraming(f)
					if f == wire.NDJSON {
						// The blanks sniffing skipped (\v and \f among them)
						// are not JSON's: the first line starts after them.
						in := c.rbuf[c.r:c.w]
						c.r += len(in) - len(bytes.TrimLeft(in, " \t\n\r\v\f"))
					}
				} else if c.blankRun = c.w - c.r; c.blankRun > c.srv.cfg.maxFrameSize() {
					return wire.Frame{}, errBadFraming
				}
			}
			if c.scanner != nil {
				f, err := c.scanner.Scan(c.rbuf[c.r:c.w])
				if err != nil {
					return f, err
				}
				if f.Len > 0 {
					c.r += f.Len
					c.frameStart = 0
					c.lastFrame = f.Len
					return f, nil
				}
			}
		}
		if c.ended {
			return wire.Frame{}, io.EOF
		}
		if err := c.flushBeforeRead(); err != nil {
			return wire.Frame{}, err
		}
		if err := c.fill(); err != nil {
			return wire.Frame{}, err
		}
	}
}

// readerFlush is the reader's flush: it writes the buffer it finds, and
// leaves frames appended meanwhile (a handed-off stream's, which may keep
// coming for as long as it runs) to a goroutine of its own, so that the
// reader goes back to reading: otherwise its requests, pings among them,
// would wait unread, and its read deadlines would run out while it wrote.
func (c *conn) readerFlush() {
	c.out.flushFor(context.Background(), 0, c.flushRest)
}

// flushBeforeRead writes the replies waiting, and, while more than
// readPauseMark bytes of them are still unread by the peer, does not read:
// a peer that does not read gets no new work run. The wait ends when the
// peer reads, or when the write deadline drops it as a slow consumer.
func (c *conn) flushBeforeRead() error {
	c.readerFlush()
	if c.out.queuedBytes() <= c.srv.readPauseMark {
		return nil
	}
	c.srv.stats.readPauses.Add(1)
	if err := c.out.drainTo(c.srv.readPauseMark, c.ctx.Done(), c.quit); err != nil {
		if c.draining.Load() {
			return errDraining
		}
		if c.evicted.Load() {
			return errEvicted
		}
		return err
	}
	c.resumed()
	return nil
}

func (c *conn) setFraming(f wire.Framing) {
	c.framing = f
	if f == wire.NDJSON {
		c.scanner = &wire.LineScanner{MaxBytes: c.srv.cfg.maxFrameSize()}
	} else {
		c.scanner = &wire.FrameScanner{MaxUnits: c.srv.cfg.maxFrameSize()}
	}
}

// fill reads more input into the current chunk, or a new one.
//
// Memory follows what the peer has sent, never what it announces: a chunk
// for an incomplete frame doubles at most, and only once its room is used
// up, so it holds at most twice what has arrived; the last step is sized by
// the frame's announced length. So one N-byte frame costs at most about 2N
// however its text is encoded, and is copied O(log N) times. What a chunk
// holds beyond recvAllowance is reserved from the server's memory budget
// first.
func (c *conn) fill() error {
	partial := c.w - c.r
	// Before any wait for the budget below: a reader holding part of a
	// frame is not idle (evictIdleLocked), also while it waits.
	c.midFrame.Store(partial > 0)
	// With nothing buffered on a plain socket, readIdle takes a chunk only
	// once bytes are there, and gives back the room left before it waits.
	// A warm connection waits as a busy one does (idle.go).
	idle := partial == 0 && c.raw != nil && !c.warm
	room := len(c.rbuf) - c.w
	if idle && room < minChunk/2 {
		c.unpinChunk()
		c.rbuf, c.r, c.w = nil, 0, 0 // full: readIdle takes another
		if c.held > 0 {
			c.reserve(0) // gives back: never waits
		}
	}
	// With nothing buffered, the next frame should arrive in one read: a
	// chunk with room for it (and, when new, for the one after).
	need, fresh := minChunk/2, minChunk/2
	if partial == 0 {
		need, fresh = c.nextChunkSize()
	}
	if !idle && (room < need || (partial == 0 && room > 4*c.chunk)) {
		c.unpinChunk() // the new chunk is reserved whole, the old one may stay in use
		// Room for as much again as is here: doubling.
		grow := max(c.chunk-partial, partial, fresh)
		if fs, ok := c.scanner.(*wire.FrameScanner); ok && partial > 0 {
			// The frame announces its length: once the rest of it,
			// estimated from its bytes per unit so far, is no more than
			// what is here, room for just that (and an eighth, for the
			// estimate's error).
			if rest := fs.EstimatedRemaining(); rest <= partial {
				grow = max(minChunk/2, rest+rest/8)
			}
		}
		size := partial + grow
		// What the frame needs: the free allowance while what is here
		// fits in it, else doubling at most. More (up to c.chunk) is only
		// for speed: not from a budget that others may need.
		required := recvAllowance
		if partial >= recvAllowance/2 {
			required = partial + min(grow, partial)
		}
		if size > required {
			size = fitSpare(size, required, c.reserveSpare)
		}
		if err := c.reserve(size); err != nil {
			return err
		}
		nb := make([]byte, size)
		copy(nb, c.rbuf[c.r:c.w])
		c.rbuf, c.r, c.w = nb, 0, partial
	}
	if partial > 0 && c.frameStart == 0 {
		c.frameStart, c.frameBytes = c.readAt, partial
	}
	if err := c.armReadDeadline(partial > 0); err != nil {
		return err
	}
	// Checked after arming the deadline: Shutdown sets draining and then a
	// past deadline, so either we see draining or the Read sees the deadline.
	if err := c.stopped(); err != nil {
		return err
	}
	var n int
	var err error
	lastRead := c.readAt
	if idle {
		if n, err = c.readIdle(); err == errGoIdle {
			return err
		}
	} else {
		n, err = c.nc.Read(c.rbuf[c.w:])
	}
	// Every request completed by this read arrived now: one clock read
	// serves them all (their deadlines and latencies start here).
	c.readAt = monotime()
	if idle && n > 0 && c.served && c.readAt-lastRead < int64(c.srv.warmFor) {
		c.warm = true
	}
	switch {
	case n > 0 && c.w+n == len(c.rbuf) && (c.chunk < recvAllowance || len(c.rbuf) >= c.chunk && 2*n >= len(c.rbuf)):
		// Past the free allowance only after a read that filled most of
		// a full-size chunk: one that merely fills the last room of a
		// chunk, or a small one, says little.
		c.chunk = min(c.chunk*2, maxChunk)
	case partial == 0 && n < c.chunk/8:
		// Only a read that starts afresh says the peer sends little: one
		// that completes a frame is short because the frame was nearly in.
		c.chunk = max(c.chunk/2, minChunk)
	}
	c.received(n)
	if n > 0 {
		return nil
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if err := c.stopped(); err != nil {
			return err
		}
		if c.deadlineKind == deadlineNone || c.deadlineKind == deadlineStale || c.readAt < c.deadlineAt {
			// Not our deadline: a late wake-up meant for peek. Read again.
			c.deadlineKind = deadlineStale
			return nil
		}
		switch c.deadlineKind {
		case deadlineWarm:
			c.warm = false // quiet for warmFor: go idle
			return nil
		case deadlineFrame:
			if c.readAt-c.quietSince < int64(c.srv.cfg.FrameTimeout)*3/4 {
				return errFrameTooSlow // bytes came lately: a trickle, not silence
			}
			return errFrameTimeout
		case deadlineIdle:
			return errHeartbeatTimeout
		}
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// tlsProgress is called, on the reader's goroutine, when bytes of a TLS
// record arrive inside a read of tls.Conn (see handshakeCapped.onBytes):
// the connection is not idle, and a read deadline counting quiet time
// (FrameTimeout, HeartbeatTimeout, warmFor) starts afresh, as it does for
// bytes on a plain socket. Not while peeking or lingering, whose reads run
// under deadlines of their own, nor past stopReading's.
func (c *conn) tlsProgress(now int64) {
	c.activeAt.Store(now)
	if c.lingering || c.deadlineKind == deadlineNone || c.deadlineKind == deadlineStale {
		return
	}
	c.quietSince = now
	c.armReadDeadline(c.w > c.r)
	// After arming, as fill checks: stopReading (Shutdown, eviction) sets
	// its flag, then a past deadline, which the new one must not undo.
	if c.stopped() != nil {
		c.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

// received accounts for n bytes a read put at rbuf[w:], at c.readAt.
func (c *conn) received(n int) {
	if n > 0 && c.tlsCap != nil {
		c.tlsCap.dataRead()
	}
	c.srv.stats.bytesIn.Add(uint64(n))
	c.w += n
	if n > 0 {
		c.activeAt.Store(c.readAt)
		c.quietSince = c.readAt
		c.frameBytes += n
	}
}

// stopped reports why the reader must stop reading, if it must.
func (c *conn) stopped() error {
	if c.draining.Load() {
		return errDraining
	}
	if c.evicted.Load() {
		return errEvicted
	}
	return nil
}

// reserveSpare is reserve for a chunk that is only faster, not needed: it
// never waits, and takes bytes only from a budget at most half used.
func (c *conn) reserveSpare(size int) bool {
	want := max(size-recvAllowance, 0)
	delta := want - c.held
	if delta <= 0 {
		return true // reserve gives back any excess
	}
	if !c.srv.budget.tryReserveSpare(int64(delta)) {
		return false
	}
	c.held = want
	c.peakHeld = max(c.peakHeld, want)
	return true
}

// fitSpare returns the largest of size, size/2, size/4… above need that
// reserveSpare admits, else need: a budget with no room for a connection's
// full growth may still have room for half of it.
func fitSpare(size, need int, reserveSpare func(size int) bool) int {
	for ; size > need; size = max(size/2, need) {
		if reserveSpare(size) {
			return size
		}
	}
	return need
}

// reserve makes the memory budget cover a chunk of size bytes, in place of
// the current one. When the budget is short the reader waits, not
// reading, for other connections to give bytes back, and gives up after
// FrameTimeout.
func (c *conn) reserve(size int) error {
	want := max(size-recvAllowance, 0)
	delta := want - c.held
	if delta == 0 {
		return nil
	}
	b := c.srv.budget
	if delta < 0 {
		b.charge(int64(delta))
		c.held = want
		return nil
	}
	if err := c.waitForBudget(delta); err != nil {
		return err
	}
	c.held = want
	c.peakHeld = max(c.peakHeld, want)
	return nil
}

// chunkPin is the budget charge of a read chunk that requests use: their
// Pattern, Data and ID are slices of it, so the chunk stays in memory while
// their handlers run, also after the reader has moved on to a new chunk. The
// charge is given back when the reader and the last of them let go. Only
// charged chunks (beyond recvAllowance) are pinned: the free allowance is
// per connection, and handlers running at once are bounded apart
// (MaxInFlight, MaxHandlers).
type chunkPin struct {
	refs   atomic.Int32
	bytes  int64
	budget *memoryBudget
}

func (p *chunkPin) release() {
	if p.refs.Add(-1) == 0 {
		p.budget.charge(-p.bytes)
	}
}

// pinChunk returns the current chunk's pin, with a reference taken for a
// request.
func (c *conn) pinChunk() *chunkPin {
	if c.pin == nil {
		c.pin = &chunkPin{bytes: int64(c.held), budget: c.srv.budget}
		c.pin.refs.Store(1) // the reader's
	}
	c.pin.refs.Add(1)
	return c.pin
}

// unpinChunk is called as the reader lets go of its chunk: when requests
// used it, its charge goes with the pin (given back as they finish), and
// the reader holds nothing of the budget until it reserves again.
func (c *conn) unpinChunk() {
	if c.pin != nil {
		c.pin.release()
		c.pin, c.held = nil, 0
	}
}

// releaseBudget gives back what the connection's receive buffer holds; the
// reader calls it as it finishes.
func (c *conn) releaseBudget() {
	c.unpinChunk()
	if c.held > 0 {
		c.srv.budget.charge(-int64(c.held))
		c.held = 0
	}
	c.rbuf, c.r, c.w = nil, 0, 0
	c.srv.osMemory.after(c.peakHeld)
}

// Read deadlines. While part of a frame is buffered, the peer must not go
// silent for FrameTimeout (every read that brings bytes restarts the wait,
// as NestJS 12's incompleteMessageTimeout does), and, once the frame has
// taken longer than FrameTimeout, it must have averaged MinFrameRate bytes
// a second (so a byte-at-a-time trickle is still dropped). While nothing is
// buffered, a connection whose peer sends heartbeats must send something
// within HeartbeatTimeout. Under load a deadline would be due at almost
// every read, so it is renewed only when a quarter of its timeout (at most
// a second) has passed since it was set: cheap, and the peer still gets at
// least three quarters of the timeout. A pause of the server's own making
// (see resumed) renews it at once.
const (
	deadlineNone uint8 = iota
	deadlineFrame
	deadlineIdle
	deadlineWarm  // a warm connection's quiet time is up (idle.go)
	deadlineStale // must be set afresh
)

func (c *conn) armReadDeadline(pending bool) error {
	kind, timeout := deadlineNone, time.Duration(0)
	// A peer that sends heartbeats is held to HeartbeatTimeout in the
	// middle of a frame too: a dead path cuts uploads as well.
	hb := c.srv.cfg.HeartbeatTimeout
	hbMid := pending && c.heartbeats && hb > 0
	switch {
	case pending:
		if t := c.srv.cfg.frameTimeout(); t > 0 {
			kind, timeout = deadlineFrame, t
		} else if hbMid {
			kind, timeout = deadlineIdle, hb
		}
	case c.warm && (!c.heartbeats || c.srv.cfg.HeartbeatTimeout <= 0 || c.srv.cfg.HeartbeatTimeout > c.srv.warmFor):
		kind, timeout = deadlineWarm, c.srv.warmFor
	case c.heartbeats && c.srv.cfg.HeartbeatTimeout > 0:
		kind, timeout = deadlineIdle, c.srv.cfg.HeartbeatTimeout
	}
	if kind == deadlineNone {
		if c.deadlineKind == deadlineNone {
			return nil
		}
		c.deadlineKind, c.deadlineSet = deadlineNone, 0
		return c.nc.SetReadDeadline(time.Time{})
	}
	now := monotime()
	renew := timeout
	if hbMid {
		renew = min(renew, hb)
	}
	if (kind == c.deadlineKind || hbMid && c.deadlineKind == deadlineIdle) && now-c.deadlineSet <= int64(min(time.Second, renew/4)) {
		return nil
	}
	at := monoAdd(now, timeout)
	if kind != deadlineFrame {
		// Quiet time counts from the last bytes read, also across a
		// warm wait that ended.
		at = monoAdd(c.quietSince, timeout)
	}
	if kind == deadlineFrame && c.srv.cfg.MinFrameRate > 0 {
		// The rate floor: FrameTimeout of grace, then MinFrameRate, bytes
		// ahead of it earning at most FrameTimeout of credit (and with
		// it the frame's share of MemoryBudget).
		rate := int64(c.srv.cfg.MinFrameRate)
		c.frameBytes = creditedBytes(c.frameBytes, c.frameStart, now, timeout, rate)
		floor := monoAdd(monoAdd(c.frameStart, timeout), time.Duration(int64(c.frameBytes)*int64(time.Second)/rate))
		at = max(min(at, floor), now+int64(time.Millisecond))
	}
	if hbMid && kind == deadlineFrame {
		if hbAt := monoAdd(c.quietSince, hb); hbAt < at {
			kind, at = deadlineIdle, hbAt
		}
	}
	c.deadlineKind, c.deadlineSet, c.deadlineAt = kind, now, at
	return c.nc.SetReadDeadline(monoTime(at))
}

// handleFrame turns a frame into a request and serves it. It reports
// whether the reader role was lost while the handler ran, or ended: the
// connection finished.
func (c *conn) handleFrame(f wire.Frame) (lost bool) {
	if !f.InvalidUTF8 {
		var pin *chunkPin
		if c.held > 0 {
			pin = c.pinChunk()
		}
		return c.serveFrame(f.Body, pin)
	}
	// Node.js would have decoded the bytes to U+FFFD: so do we. The copy
	// (up to 3 bytes for each invalid one) is held as long as the request,
	// so it is charged to the budget as a chunk is, and waited for.
	n := wire.SanitizedLen(f.Body)
	// A whole request is buffered while the reader waits: not idle
	// (evictIdleLocked). The next fill clears it.
	c.midFrame.Store(true)
	if err := c.waitForBudget(n); err != nil {
		c.finish(err)
		return true
	}
	pin := &chunkPin{bytes: int64(n), budget: c.srv.budget}
	pin.refs.Store(1)
	return c.serveFrame(wire.SanitizeUTF8(make([]byte, 0, n), f.Body), pin)
}

// serveFrame serves the frame body, whose memory pin (nil if it needs
// none) goes to the request, or is released if there is none.
func (c *conn) serveFrame(body []byte, pin *chunkPin) (lost bool) {
	s := c.srv
	var p wire.Packet
	var rc *requestContext
	var rt *route
	switch {
	case c.framing == wire.NDJSON && len(bytes.TrimSpace(body)) == 0:
	default:
		var err error
		if p, err = wire.ParseRequest(body, s.cfg.MaxDepth); err != nil {
			s.badPacket(&c.peer, err, len(body))
		} else if bytes.Equal(p.Pattern, heartbeatPatternJSON) && p.ID != nil {
			c.answerHeartbeat(p.ID)
		} else {
			rc, rt = s.intake(&p, nil, &c.peer, c, c.readAt, c.scratch[:0])
		}
	}
	if rc == nil {
		if pin != nil {
			pin.release()
		}
		// A refusal (no pattern, no handler, rate limited) or a pong was
		// queued with no handler run, so no commit saw it: a long queue is
		// written now, as commit writes a handler's. Else a chunk of tiny
		// refused requests (up to 1 MiB, read at once) queues ten times
		// its size of replies before the reader flushes or pauses.
		if c.out.queuedBytes() > flushThreshold {
			c.readerFlush()
		}
		return false
	}
	rc.pin = pin
	rc.parent = c.ctx // cancelled when the peer disconnects
	if rc.req.event {
		// Delivered, and nobody waits for an answer: an event runs on when
		// its sender closes (as NestJS's do, and over NATS), until Timeout
		// or a forced Shutdown.
		rc.parent = s.baseCtx
	}
	return c.run(rc, rt, c.readAt)
}

// waitForBudget takes n bytes of the memory budget for the reader (a
// chunk, a frame's copy). While they are not there the connection is not
// read; it gives up after FrameTimeout (errOverBudget) or when it stops.
func (c *conn) waitForBudget(n int) error {
	if c.srv.budget.tryReserve(int64(n)) {
		return nil
	}
	c.flush() // the wait may be long: replies made already go out first
	ok, waited := c.srv.takeBudget(int64(n), c.ctx.Done(), c.quit)
	if !ok {
		if err := c.stopped(); err != nil {
			return err
		}
		return errOverBudget
	}
	if waited {
		c.resumed() // a pause of the server's making: deadlines start afresh
	}
	return nil
}

// run serves rc inline, under the hand-off protocol.
func (c *conn) run(rc *requestContext, rt *route, start int64) (lost bool) {
	s := c.srv
	c.inflight.Add(1)
	event := rc.req.event
	if event {
		c.events.Add(1) // after inflight, and dropped before it: events == inflight only when no request runs
	}
	s.stats.inFlight.Add(1)
	s.disp.prepare(rc, rt, c, start)
	c.ranHandler = true // before busy: from then on a hand-off may start a reader
	c.served = true
	c.busy.Store(rc)
	s.mon.notify()

	goexit := true
	defer func() {
		if !goexit {
			return
		}
		if p := recover(); p != nil {
			panic(p)
		}
		// The handler called runtime.Goexit (serve answered it): this
		// goroutine ends here. Its place is released, and if it was the
		// connection's reader another one takes over, as at a hand-off.
		if !c.afterRun(rc, event) {
			if rc.overran.Load() {
				go c.resumeReading()
			} else {
				go c.readLoop()
			}
		}
	}()
	s.disp.serve(rc, rt)
	goexit = false
	return c.afterRun(rc, event)
}

// afterRun is run's end, once rc's handler returned: it reports whether
// the reader's role was taken meanwhile.
func (c *conn) afterRun(rc *requestContext, event bool) (lost bool) {
	s := c.srv
	// If the monitor took the role meanwhile, busy was cleared by it.
	lost = !c.busy.CompareAndSwap(rc, nil)
	if lost || rc.overran.Load() {
		// It ran long: the connection was busy until now, not idle since
		// its last read (evictIdleLocked). Stored before inflight drops,
		// which evictIdleLocked reads first.
		c.activeAt.Store(monotime())
	}
	s.stats.inFlight.Add(-1)
	if event {
		c.events.Add(-1)
	}
	last := c.inflight.Add(-1) == 0
	if !lost && rc.overran.Load() {
		// MaxHandlers kept the reader in the handler: a pause of ours,
		// which must not count against the peer's heartbeats or frame.
		c.resumed()
	}
	if lost {
		s.handedOffRunning.Add(-1)
		select {
		case c.slotFree <- struct{}{}:
		default:
		}
		if c.peeking.Load() {
			c.nc.SetReadDeadline(time.Unix(1, 0)) // wake the reader waiting for a slot
		}
		if last && c.orphaned.Load() {
			// The last event of a detached connection, whose reader has
			// gone (finish): it closes the connection.
			c.close()
			s.log.Debug("connection closed", "remote", c.remote)
		}
	}
	return lost
}

// finish ends the connection after its reader stopped for err: in-flight
// handlers finish and their replies are flushed first, except when the
// connection is already broken.
func (c *conn) finish(err error) {
	s := c.srv
	c.releaseBudget()
	// The connection reads no more: it gives up its MaxConnections slot.
	mayLinger := s.beginClosing(c)
	// The peer is there: let it read our last replies before we close.
	// A peer that broke the protocol gets less patience.
	linger := lingerTimeout
	if c.tlsCap != nil {
		if werr := c.tlsCap.wfail.Load(); werr != nil {
			// Whatever the read then failed with ("bad record MAC": a
			// failed KeyUpdate answer leaves crypto/tls on its old read
			// key), the write's failure is the cause.
			err = werr
			if werr.timedOut() {
				err = errWriteStalled
			}
		}
	}
	switch {
	case errors.Is(err, errDraining):
	case errors.Is(err, errEvicted):
		s.stats.evicted.Add(1)
		s.limit.log(s.log, slog.LevelInfo, "closing idle connection to admit a new one (MaxConnections reached)", "remote", c.remote)
	case errors.Is(err, io.EOF):
		// The peer closed: handlers still running are told so, but replies
		// that are ready still go out to a peer that only half-closed.
		c.cancel()
	case errors.Is(err, wire.ErrCorruptLength), errors.Is(err, wire.ErrFrameTooLarge),
		errors.Is(err, wire.ErrSplitSurrogate), errors.Is(err, errBadFraming):
		s.stats.framing.Add(1)
		linger = lingerTimeout / 10
		s.limit.log(s.log, slog.LevelWarn, "closing connection: framing lost", "remote", c.remote, "err", err)
	case errors.Is(err, errHeartbeatTimeout):
		c.cancel()
		linger = 0
		s.stats.heartbeatFailed.Add(1)
		s.limit.log(s.log, slog.LevelWarn, "closing connection: heartbeats stopped", "remote", c.remote, "timeout", s.cfg.HeartbeatTimeout)
	case errors.Is(err, errFrameTimeout), errors.Is(err, errFrameTooSlow):
		s.stats.framing.Add(1)
		if errors.Is(err, errFrameTooSlow) {
			s.stats.slowFrames.Add(1)
		} else {
			s.stats.stalledFrames.Add(1)
		}
		linger = lingerTimeout / 10
		s.limit.log(s.log, slog.LevelWarn, "closing connection: incomplete frame", "remote", c.remote, "err", err,
			"frame_timeout", s.cfg.FrameTimeout, "min_frame_rate", s.cfg.MinFrameRate)
	case errors.Is(err, errTLSNoData):
		s.stats.framing.Add(1)
		c.cancel()
		linger = 0
		s.limit.log(s.log, slog.LevelWarn, "closing connection: TLS records without data", "remote", c.remote, "err", err)
	case errors.Is(err, errTLSWriteFailed), errors.Is(err, errWriteStalled):
		// A write crypto/tls made from inside Read (a KeyUpdate's answer)
		// failed: nothing more can be sent. Failed as the batch writer's
		// own writes fail: a peer that stopped reading counts as a slow
		// consumer.
		c.cancel()
		linger = 0
		c.out.fail(err)
	case errors.Is(err, errOverBudget):
		s.stats.overBudget.Add(1)
		c.cancel()
		linger = 0
		s.limit.log(s.log, slog.LevelWarn, "closing connection: memory budget exhausted", "remote", c.remote, "budget", s.cfg.MemoryBudget)
	default:
		c.cancel()
		linger = 0
		s.log.Debug("connection read failed", "remote", c.remote, "err", err)
	}
	if !mayLinger && c.inflight.Load() > 0 {
		// Past the closing bound the connection would stay counted against
		// MaxConnections while its handlers run. Events owe the peer
		// nothing and run on until Timeout: once only they are left and
		// the replies made are out, the socket closes and the slot frees
		// (their number is bounded by MaxHandlers, all of them handed off).
		c.out.drainTo(0, s.baseCtx.Done(), nil)
		if n := c.inflight.Load(); n > 0 && c.events.Load() == n && s.detach(c) {
			netConnBeneath(c.nc).Close()
			// The reader does not wait for them: a goroutine per detached
			// connection would add up to MaxHandlers goroutines beyond
			// the documented bound. The last event to return closes the
			// connection (run); if they all returned already, it is
			// closed here. Events write nothing, and it does not linger.
			c.orphaned.Store(true)
			if c.inflight.Load() > 0 {
				return
			}
			c.close()
			s.log.Debug("connection closed", "remote", c.remote)
			return
		}
	}
	c.waitHandlers()
	// Every reply out, unless the peer stops taking them for WriteTimeout
	// or the connection is cancelled (forced shutdown).
	c.out.drainTo(0, s.baseCtx.Done(), nil)
	if linger > 0 && mayLinger && !c.out.broken() {
		c.lingeringClose(linger)
	}
	c.close()
	s.log.Debug("connection closed", "remote", c.remote)
}

// waitHandlers waits for the connection's handlers to return. The reader
// no longer reads, so nothing else sees the peer go (a peer that broke the
// framing, or was silent mid-frame, and left): while the handlers' contexts
// still run, it looks every peerGoneEvery, and cancels them when the peer
// is gone, as the end of its stream would have.
func (c *conn) waitHandlers() {
	if c.inflight.Load() == 0 {
		return
	}
	t := time.NewTicker(peerGoneEvery)
	defer t.Stop()
	for c.inflight.Load() > 0 {
		select {
		case <-c.slotFree:
		case <-t.C:
			if c.ctx.Err() == nil && peerGone(c.nc) {
				c.cancel()
			}
		}
	}
}

// peerGoneEvery is how often waitHandlers looks for a departed peer: the
// monitor's period for a reader held in a handler (watchEvery ticks).
const peerGoneEvery = watchEvery * handoffTick

// lingerTimeout bounds lingeringClose's wait for the peer. A peer that
// reads its replies and closes (every NestJS or msgpattern client does on
// end of stream) ends the wait at once; a slow reader gets time to finish.
const lingerTimeout = 5 * time.Second

// lingeringClose half-closes the connection and discards what the peer
// still sends until it closes too, or lingerTimeout passes. Closing a socket
// with unread input makes the kernel send a reset, and a reset can destroy
// replies the peer has received but not yet read; a FIN does not. net/http
// does the same (closeWriteAndWait). Lingering connections no longer count
// against MaxConnections; their number is bounded apart (see beginLinger).
func (c *conn) lingeringClose(timeout time.Duration) {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	c.lingering = true
	// A Shutdown beginning now must not cut the linger short (stopReading
	// would move the read deadline into the past): the close would reset
	// the replies still in the kernel's send queue. Its context's end
	// still ends the linger (forceClose closes the socket). Once: if
	// stopReading ran first, the deadline set below replaces its own.
	c.quitOnce.Do(func() { close(c.quit) })
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	var buf [4 << 10]byte
	for {
		n, err := c.nc.Read(buf[:])
		if err != nil {
			return
		}
		if n > 0 && c.tlsCap != nil {
			c.tlsCap.dataRead() // data, discarded: not records without data
		}
	}
}

// close closes the socket and forgets the connection, once.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.cancel()
		c.nc.Close()
		c.srv.removeConn(c)
		close(c.done)
	})
}

// writeFailed is the write side's report that the peer is gone or does not
// read: the connection is dropped, and a slow consumer counted and logged.
func (c *conn) writeFailed(err error) {
	s := c.srv
	if errors.Is(err, errSlowConsumer) || errors.Is(err, errWriteStalled) {
		s.stats.slowConsumers.Add(1)
		s.limit.log(s.log, slog.LevelWarn, "closing connection: peer does not read its replies (slow consumer)",
			"remote", c.remote, "err", err, "queued", c.out.queuedBytes(),
			"max_queued_reply_bytes", s.cfg.MaxQueuedReplyBytes, "write_timeout", s.cfg.WriteTimeout)
	}
	c.cancel()
	// The failed write may have left a record torn: close beneath TLS,
	// which would append its close_notify alert to it (the peer would see
	// "bad record MAC" rather than the end of the stream).
	netConnBeneath(c.nc).Close()
}

// creditedBytes is what bytes of a frame, arriving since start (monotime),
// count for at rate bytes per second: at most what the rate earns by
// now+credit. Bytes sent ahead of the rate earn at most credit (a token
// bucket, not a lifetime average): else a burst would buy the trickle after
// it hours of life (8 MiB: 4.6 h at 500 B/s). The server holds its peers'
// frames to it, and the client its server's replies.
func creditedBytes(bytes int, start, now int64, credit time.Duration, rate int64) int {
	earned := (float64(now-start) + float64(credit)) / float64(time.Second) * float64(rate)
	return int(min(float64(bytes), earned))
}
