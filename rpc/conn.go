package rpc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

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
	errDraining     = errors.New("rpc: server shutting down")
	errFrameTimeout = errors.New("rpc: peer stopped in the middle of a frame")
	errBadFraming   = errors.New("rpc: first byte is neither a digit nor '{'")
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
	ctx    context.Context // cancelled on disconnect and forced shutdown
	cancel context.CancelFunc

	// Reader-role state, touched only by the goroutine holding the role.
	framing       wire.Framing
	scanner       wire.Scanner
	rbuf          []byte // the current chunk, len == cap
	r, w          int    // rbuf[r:w] is read but not yet consumed
	chunk         int
	scratch       [128]byte
	seq           uint64
	deadlineSet   int64 // monotime when the frame read deadline was set, 0 if none
	frameDoneSinc bool  // a frame completed since deadlineSet

	busy atomic.Uint64 // seq of the handler running inline, 0 if none
	seen uint64        // the monitor's last look at busy; the monitor's alone

	inflight atomic.Int32
	slotFree chan struct{} // a handed-off handler finished
	draining atomic.Bool

	// Write side.
	wmu      sync.Mutex
	wbuf     *writeBuf // nil while nothing waits to be written
	wgen     uint64    // counts buffer swaps, so a replyMark can tell if its frame left
	flushing bool
	werr     error

	closeOnce sync.Once
	idx       int // position in the server's connection list, under srv.mu
	done      chan struct{}
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(s.baseCtx)
	return &conn{
		srv:      s,
		nc:       nc,
		remote:   nc.RemoteAddr(),
		ctx:      ctx,
		cancel:   cancel,
		chunk:    minChunk * 2,
		slotFree: make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
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
	if err := c.armFrameDeadline(partial > 0); err != nil {
		return err
	}
	// Checked after arming the deadline: Shutdown sets draining and then a
	// past deadline, so either we see draining or the Read sees the deadline.
	if c.draining.Load() {
		return errDraining
	}
	n, err := c.nc.Read(c.rbuf[c.w:])
	c.srv.stats.bytesIn.Add(uint64(n))
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
		if c.deadlineSet != 0 {
			return errFrameTimeout
		}
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// armFrameDeadline bounds how long a frame may take to arrive. Under load
// a partial frame is pending at almost every read, so the deadline is
// renewed only when a frame completed since it was set and a quarter of the
// timeout (at most a second) has passed: cheap, and a frame still gets at
// least three quarters of FrameTimeout.
func (c *conn) armFrameDeadline(pending bool) error {
	renewAfter := min(time.Second, c.srv.cfg.FrameTimeout/4)
	switch {
	case pending && (c.deadlineSet == 0 || c.frameDoneSinc && monotime()-c.deadlineSet > int64(renewAfter)):
		now := monotime()
		c.deadlineSet, c.frameDoneSinc = now, false
		return c.nc.SetReadDeadline(monoTime(now + int64(c.srv.cfg.FrameTimeout)))
	case !pending && c.deadlineSet != 0:
		c.deadlineSet = 0
		return c.nc.SetReadDeadline(time.Time{})
	}
	return nil
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
		remote:      c.remote,
		transport:   "tcp",
		event:       event,
	}
	return c.run(rc, rt)
}

// run serves rc inline, under the hand-off protocol.
func (c *conn) run(rc *requestContext, rt *route) (lost bool) {
	s := c.srv
	c.inflight.Add(1)
	s.stats.inFlight.Add(1)
	c.seq++
	rc.seq = c.seq
	c.busy.Store(rc.seq)
	s.mon.notify()

	s.disp.serve(rc, rt, c)

	// If the monitor took the role meanwhile, busy was cleared by it.
	lost = !c.busy.CompareAndSwap(rc.seq, 0)
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
	switch {
	case errors.Is(err, errDraining):
	case errors.Is(err, io.EOF):
		// The peer closed: handlers still running are told so, but replies
		// that are ready still go out to a peer that only half-closed.
		c.cancel()
	case errors.Is(err, wire.ErrCorruptLength), errors.Is(err, wire.ErrFrameTooLarge),
		errors.Is(err, wire.ErrSplitSurrogate), errors.Is(err, errBadFraming):
		s.stats.framing.Add(1)
		s.limit.log(s.log, slog.LevelWarn, "closing connection: framing lost", "remote", c.remote, "err", err)
	case errors.Is(err, errFrameTimeout):
		s.stats.framing.Add(1)
		s.limit.log(s.log, slog.LevelWarn, "closing connection: incomplete frame timed out", "remote", c.remote, "timeout", s.cfg.FrameTimeout)
	default:
		c.cancel()
		s.log.Debug("connection read failed", "remote", c.remote, "err", err)
	}
	for c.inflight.Load() > 0 {
		<-c.slotFree
	}
	c.flush()
	c.close()
	s.log.Debug("connection closed", "remote", c.remote)
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
