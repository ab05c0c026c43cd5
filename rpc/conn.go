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
	"time"

	"golang.org/x/time/rate"

	"github.com/msgpattern/msgpattern/pattern"
	"github.com/msgpattern/msgpattern/wire"
)

// Read chunk sizes. Frames are sliced out of chunks and handed to handlers
// without a copy, so a chunk is never overwritten once read: when one fills
// up, the unconsumed tail moves to a fresh chunk. Chunks start small, so an
// idle connection holds little, and grow while reads fill them.
const (
	minChunk = 512
	maxChunk = 64 << 10
)

// flushThreshold makes the reader flush replies while still working through
// a long pipelined burst, so replies do not pile up unboundedly.
const flushThreshold = 64 << 10

var (
	errDraining         = errors.New("rpc: server shutting down")
	errFrameTimeout     = errors.New("rpc: peer stopped in the middle of a frame")
	errBadFraming       = errors.New("rpc: first byte is neither a digit nor '{'")
	errHeartbeatTimeout = errors.New("rpc: peer sent no heartbeat within HeartbeatTimeout")
)

// conn is one TCP connection: the transport around the dispatch core.
//
// One goroutine at a time holds the reader role: it reads frames and runs
// their handlers inline. When a handler runs long, the server's monitor
// hands the role to a new goroutine (see handoff.go), so requests on one
// connection run concurrently while fast ones cost no goroutine.
type conn struct {
	srv    *Server
	nc     net.Conn
	remote net.Addr
	peer   peer            // what the connection's requests report
	ctx    context.Context // cancelled on disconnect and forced shutdown
	cancel context.CancelFunc

	// Reader-role state, touched only by the goroutine holding the role.
	framing       wire.Framing
	scanner       wire.Scanner
	rbuf          []byte // the current chunk, len == cap
	r, w          int    // rbuf[r:w] is read but not yet consumed
	chunk         int
	scratch       [128]byte
	deadlineKind  uint8 // which read deadline is set
	deadlineSet   int64 // monotime when it was set
	frameDoneSinc bool  // a frame completed since deadlineSet
	heartbeats    bool  // the peer sends heartbeats: hold it to HeartbeatTimeout
	readAt        int64 // monotime of the last read
	limiter       *rate.Limiter

	busy atomic.Pointer[requestContext] // the request running inline, nil if none
	seen *requestContext                // the monitor's last look at busy; the monitor's alone

	inflight atomic.Int32
	slotFree chan struct{} // a handed-off handler finished
	draining atomic.Bool

	out batchWriter

	closeOnce sync.Once
	idx       int // position in the server's connection list, under srv.mu
	done      chan struct{}
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(s.baseCtx)
	var lim *rate.Limiter
	if s.cfg.RateLimitPerSec > 0 {
		lim = rate.NewLimiter(rate.Limit(s.cfg.RateLimitPerSec), max(s.cfg.RateLimitBurst, 1))
	}
	c := &conn{
		limiter:  lim,
		srv:      s,
		nc:       nc,
		remote:   nc.RemoteAddr(),
		ctx:      ctx,
		cancel:   cancel,
		chunk:    minChunk * 2,
		slotFree: make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	c.out = batchWriter{nc: nc, bytes: &s.stats.bytesOut}
	c.peer = peer{addr: c.remote, transport: "tcp"}
	return c
}

// serve is the body of a connection's first goroutine: the TLS handshake,
// if any, then reading.
func (c *conn) serve() {
	if tc, ok := c.nc.(*tls.Conn); ok {
		// A peer that never completes the handshake is held to FrameTimeout.
		ctx, cancel := context.WithTimeout(c.ctx, c.srv.cfg.FrameTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			if c.draining.Load() || c.ctx.Err() != nil {
				// Shutdown or Close interrupted the handshake: not the peer's fault.
				c.close()
				return
			}
			c.srv.stats.framing.Add(1)
			c.srv.limit.log(c.srv.log, slog.LevelWarn, "TLS handshake failed", "remote", c.remote, "err", err)
			c.close()
			return
		}
	}
	c.readLoop()
}

// readLoop is the body of the goroutine holding the reader role. It returns
// when the connection is finished or when the role was handed off.
func (c *conn) readLoop() {
	for {
		if !c.waitForSlot() {
			c.finish(context.Canceled)
			return
		}
		f, err := c.next()
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
func (c *conn) waitForSlot() bool {
	max := int32(c.srv.cfg.MaxInFlight)
	for c.inflight.Load() >= max {
		select {
		case <-c.slotFree:
		case <-c.ctx.Done():
			return false
		}
	}
	return true
}

// next returns the next complete frame, reading as needed.
func (c *conn) next() (wire.Frame, error) {
	for {
		if c.r < c.w {
			if c.scanner == nil {
				f, ok, known := wire.DetectFraming(c.rbuf[c.r:c.w])
				if ok && !known {
					return wire.Frame{}, errBadFraming
				}
				if ok {
					c.setFraming(f)
				}
			}
			if c.scanner != nil {
				f, err := c.scanner.Scan(c.rbuf[c.r:c.w])
				if err != nil {
					return f, err
				}
				if f.Len > 0 {
					c.r += f.Len
					c.frameDoneSinc = true
					return f, nil
				}
			}
		}
		c.flush()
		if err := c.fill(); err != nil {
			return wire.Frame{}, err
		}
	}
}

func (c *conn) setFraming(f wire.Framing) {
	c.framing = f
	if f == wire.NDJSON {
		c.scanner = &wire.LineScanner{MaxBytes: c.srv.cfg.MaxFrameSize}
	} else {
		c.scanner = &wire.FrameScanner{MaxUnits: c.srv.cfg.MaxFrameSize}
	}
}

// fill reads more input into the current chunk, or a new one.
func (c *conn) fill() error {
	partial := c.w - c.r
	need := minChunk / 2
	if fs, ok := c.scanner.(*wire.FrameScanner); ok {
		// A long frame announces its length: room for at least the rest of
		// it, one byte per unit, saves growing chunk by chunk.
		need = max(need, min(fs.MinRemaining(), c.srv.cfg.MaxFrameSize))
	}
	if len(c.rbuf)-c.w < need || (partial == 0 && len(c.rbuf)-c.w > 4*c.chunk) {
		size := max(c.chunk, partial+need)
		nb := make([]byte, size)
		copy(nb, c.rbuf[c.r:c.w])
		c.rbuf, c.r, c.w = nb, 0, partial
	}
	if err := c.armReadDeadline(partial > 0); err != nil {
		return err
	}
	// Checked after arming the deadline: Shutdown sets draining and then a
	// past deadline, so either we see draining or the Read sees the deadline.
	if c.draining.Load() {
		return errDraining
	}
	n, err := c.nc.Read(c.rbuf[c.w:])
	c.srv.stats.bytesIn.Add(uint64(n))
	// Every request completed by this read arrived now: one clock read
	// serves them all (their deadlines and latencies start here).
	c.readAt = monotime()
	switch {
	case c.w+n == len(c.rbuf):
		c.chunk = min(c.chunk*2, maxChunk)
	case n < c.chunk/8:
		c.chunk = max(c.chunk/2, minChunk)
	}
	c.w += n
	if n > 0 {
		return nil
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if c.draining.Load() {
			return errDraining
		}
		switch c.deadlineKind {
		case deadlineFrame:
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

// Read deadlines. While part of a frame is buffered, the frame must arrive
// within FrameTimeout of its start. While nothing is, a connection whose peer
// sends heartbeats must send something within HeartbeatTimeout. Under load
// a deadline would be due at almost every read, so it is renewed only when
// a quarter of its timeout (at most a second) has passed since it was set:
// cheap, and the peer still gets at least three quarters of the timeout.
const (
	deadlineNone uint8 = iota
	deadlineFrame
	deadlineIdle
)

func (c *conn) armReadDeadline(pending bool) error {
	kind, timeout := deadlineNone, time.Duration(0)
	switch {
	case pending:
		kind, timeout = deadlineFrame, c.srv.cfg.FrameTimeout
	case c.heartbeats:
		kind, timeout = deadlineIdle, c.srv.cfg.HeartbeatTimeout
	}
	if kind == deadlineNone {
		if c.deadlineKind == deadlineNone {
			return nil
		}
		c.deadlineKind, c.deadlineSet = deadlineNone, 0
		return c.nc.SetReadDeadline(time.Time{})
	}
	renew := kind != c.deadlineKind
	if !renew && (kind == deadlineIdle || c.frameDoneSinc) {
		renew = monotime()-c.deadlineSet > int64(min(time.Second, timeout/4))
	}
	if !renew {
		return nil
	}
	now := monotime()
	c.deadlineKind, c.deadlineSet, c.frameDoneSinc = kind, now, false
	return c.nc.SetReadDeadline(monoTime(now + int64(timeout)))
}

// handleFrame turns a frame into a request and serves it. It reports
// whether the reader role was lost while the handler ran.
func (c *conn) handleFrame(f wire.Frame) (lost bool) {
	body := f.Body
	if f.InvalidUTF8 {
		// Node.js would have decoded the bytes to U+FFFD: so do we.
		body = wire.SanitizeUTF8(make([]byte, 0, len(body)+16), body)
	}
	if c.framing == wire.NDJSON && len(bytes.TrimSpace(body)) == 0 {
		return false
	}
	s := c.srv
	p, err := wire.ParseRequest(body, s.cfg.MaxDepth)
	if err != nil {
		s.stats.badFrame.Add(1)
		s.limit.log(s.log, slog.LevelWarn, "skipping invalid frame", "remote", c.remote, "err", err, "len", len(body))
		return false
	}
	if len(p.Pattern) == 0 || string(p.Pattern) == `""` {
		s.stats.badFrame.Add(1)
		if p.ID != nil {
			c.writeRaw(func(dst []byte) []byte {
				var buf [64]byte
				return wire.AppendError(dst, c.framing, appendMissingPattern(buf[:0]), p.ID)
			})
		}
		return false
	}
	now := c.readAt
	if bytes.Equal(p.Pattern, heartbeatPatternJSON) && p.ID != nil {
		c.answerHeartbeat(p.ID)
		return false
	}
	if !c.allow(now) {
		if p.ID != nil {
			s.stats.rateLimited.Add(1)
			c.writeRaw(func(dst []byte) []byte {
				return wire.AppendError(dst, c.framing, rateLimitedError, p.ID)
			})
		} else {
			s.stats.rateLimEvt.Add(1)
		}
		s.limit.log(s.log, slog.LevelWarn, "rate limit exceeded", "remote", c.remote)
		return false
	}
	var rt *route
	if key, ok := pattern.Route(p.Pattern, c.scratch[:0]); ok {
		rt = s.router.lookup(key)
	}
	event := p.ID == nil
	if event && c.framing == wire.NDJSON && rt != nil && !rt.event {
		// Line framing is for people at a terminal: a request sent without
		// an id to a message handler still gets its reply, without an id.
		event = false
	}
	if rt == nil {
		if event {
			s.stats.noEventHandler.Add(1)
			s.limit.log(s.log, slog.LevelDebug, "no handler for event", "pattern", string(p.Pattern), "remote", c.remote)
		} else {
			s.stats.noHandler.Add(1)
			c.writeRaw(func(dst []byte) []byte { return wire.AppendNoHandler(dst, c.framing, p.ID) })
		}
		return false
	}
	data := p.Data
	if data == nil {
		data = []byte("null")
	}
	rc := &requestContext{parent: c.ctx}
	rc.req = Request{
		Pattern:     p.Pattern,
		Route:       rt.key,
		Data:        data,
		ID:          p.ID,
		metadataRaw: p.Metadata,
		peer:        &c.peer,
		event:       event,
	}
	return c.run(rc, rt, now)
}

// run serves rc inline, under the hand-off protocol.
func (c *conn) run(rc *requestContext, rt *route, start int64) (lost bool) {
	s := c.srv
	c.inflight.Add(1)
	s.stats.inFlight.Add(1)
	s.disp.prepare(rc, rt, c, start)
	c.busy.Store(rc)
	s.mon.notify()

	s.disp.serve(rc, rt)

	// If the monitor took the role meanwhile, busy was cleared by it.
	lost = !c.busy.CompareAndSwap(rc, nil)
	s.stats.inFlight.Add(-1)
	c.inflight.Add(-1)
	if lost {
		select {
		case c.slotFree <- struct{}{}:
		default:
		}
	}
	return lost
}

// finish ends the connection after its reader stopped for err: in-flight
// handlers finish and their replies are flushed first, except when the
// connection is already broken.
func (c *conn) finish(err error) {
	s := c.srv
	// The peer is there: let it read our last replies before we close.
	// A peer that broke the protocol gets less patience.
	linger := lingerTimeout
	switch {
	case errors.Is(err, errDraining):
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
	case errors.Is(err, errFrameTimeout):
		s.stats.framing.Add(1)
		linger = lingerTimeout / 10
		s.limit.log(s.log, slog.LevelWarn, "closing connection: incomplete frame timed out", "remote", c.remote, "timeout", s.cfg.FrameTimeout)
	default:
		c.cancel()
		linger = 0
		s.log.Debug("connection read failed", "remote", c.remote, "err", err)
	}
	for c.inflight.Load() > 0 {
		<-c.slotFree
	}
	c.flush()
	if linger > 0 {
		c.lingeringClose(linger)
	}
	c.close()
	s.log.Debug("connection closed", "remote", c.remote)
}

// lingerTimeout bounds lingeringClose's wait for the peer. A peer that
// reads its replies and closes (every NestJS or msgpattern client does on
// end of stream) ends the wait at once; a slow reader gets time to finish.
const lingerTimeout = 5 * time.Second

// lingeringClose half-closes the connection and discards what the peer
// still sends until it closes too, or lingerTimeout passes. Closing a socket
// with unread input makes the kernel send a reset, and a reset can destroy
// replies the peer has received but not yet read; a FIN does not. net/http
// does the same (closeWriteAndWait).
func (c *conn) lingeringClose(timeout time.Duration) {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	var buf [4 << 10]byte
	for {
		if _, err := c.nc.Read(buf[:]); err != nil {
			return
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

// allow applies the connection's and the server's rate limits.
func (c *conn) allow(now int64) bool {
	if c.limiter == nil && c.srv.limiter == nil {
		return true
	}
	t := monoTime(now)
	if c.limiter != nil && !c.limiter.AllowN(t, 1) {
		return false
	}
	return c.srv.limiter == nil || c.srv.limiter.AllowN(t, 1)
}

// rateLimitedError is the error value of a request refused by a rate limit.
var rateLimitedError = []byte(`{"status":"error","message":"Rate limit exceeded"}`)
