package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/msgpattern/msgpattern/wire"
)

// clientConn is one connection of a Client: a reader goroutine that
// matches replies to pending calls by id, a batchWriter for requests with
// a writer goroutine that flushes it when several calls are in flight,
// and, when heartbeats are on, a goroutine that pings while the
// connection is idle.
type clientConn struct {
	client *Client
	nc     net.Conn
	out    batchWriter

	mu    sync.Mutex // guards dead and cause
	dead  bool
	cause error

	// pending holds the calls waiting for replies, by id (client_pending.go).
	pending pendingTable

	inflight  atomic.Int64
	hbMode    atomic.Int32 // hbUnknown or hbUnsupported
	lastRead  atomic.Int64 // monotime of the last sign of life: a frame read, or progress on one (readLoop)
	lastFrame atomic.Int64 // monotime of the last complete frame read, once it was delivered (readLoop)
	// replied: a frame answered one of the connection's calls or pings
	// (deliver). A frame that answers none (an unknown id, a foreign
	// frame) does not make a connection that dies young a served one
	// (diedYoung).
	replied atomic.Bool
	// lastPing is the id of the last ping forgotten because another frame
	// answered for it: its own reply, coming later, still says whether the
	// server has heartbeats.
	lastPing atomic.Uint64
	written  atomic.Uint64 // bytes written (out)
	born     int64         // monotime the connection was made
	diedAt   atomic.Int64  // monotime fail was first called, 0 while alive
	deadFlag atomic.Bool
	done     chan struct{} // closed when the reader, writer (and heartbeat) stopped
	stop     chan struct{} // closed by fail, to stop the writer and heartbeat loops
	kick     chan struct{} // 1-buffered: requests are queued for the writer
	roomTurn chan struct{} // 1-buffered: held by the one call waiting in waitForRoom
}

// call is one pending request.
type call struct {
	stream bool
	ping   bool

	// Guarded by the lock of the call's shard of clientConn.pending.
	last     []byte     // the latest value (unary calls keep only the last)
	queue    []callItem // stream values not yet taken
	buffered int        // what the values in queue cost (queuedCost)
	final    bool
	err      error
	notify   chan struct{} // 1-buffered: something changed
	hasLast  bool
}

type callItem struct {
	value []byte
	err   error
}

func newClientConn(c *Client, nc net.Conn) *clientConn {
	cc := &clientConn{
		client:   c,
		nc:       nc,
		born:     monotime(),
		done:     make(chan struct{}),
		stop:     make(chan struct{}),
		kick:     make(chan struct{}, 1),
		roomTurn: make(chan struct{}, 1),
	}
	cc.out = batchWriter{nc: nc, timeout: c.opts.writeTimeout, bytes: &cc.written}
	cc.lastRead.Store(monotime())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); cc.readLoop() }()
	go func() { defer wg.Done(); cc.writeLoop() }()
	if c.opts.heartbeatInterval > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); cc.heartbeatLoop() }()
	}
	go func() { wg.Wait(); close(cc.done) }()
	return cc
}

func (cc *clientConn) isDead() bool { return cc.deadFlag.Load() }

// register adds a pending call under a fresh id. On a dead connection it
// fails with an error that says the request never left (see notSent).
func (cc *clientConn) register(ca *call) (uint64, error) {
	id := cc.client.ids.Add(1)
	sh := cc.pending.shard(id)
	sh.mu.Lock()
	// Checked under the shard's lock: fail marks the connection dead
	// before it empties the shards, so a call is either seen there or
	// refused here.
	if cc.deadFlag.Load() {
		sh.mu.Unlock()
		return 0, notSent(cc.lostError())
	}
	sh.put(id, ca)
	if !ca.ping {
		cc.inflight.Add(1)
	}
	sh.mu.Unlock()
	return id, nil
}

// forget removes a call that no longer waits (its context ended); a reply
// that comes later is dropped.
func (cc *clientConn) forget(id uint64) {
	sh := cc.pending.shard(id)
	sh.mu.Lock()
	if ca, ok := sh.calls[id]; ok {
		delete(sh.calls, id)
		if !ca.ping {
			cc.inflight.Add(-1)
		}
	}
	sh.mu.Unlock()
}

// fail kills the connection: every pending call fails with the cause.
//
// A context's error as the cause is that of a request's write cut short by
// its caller's context (the writer records it as its failure, see
// batchWriter.flushFor): that caller returns its context's error, and the
// other calls get errWriteCutShort, never an error that matches another
// call's context.Canceled or DeadlineExceeded.
func (cc *clientConn) fail(cause error) {
	if errors.Is(cause, context.Canceled) || errors.Is(cause, context.DeadlineExceeded) {
		cause = errWriteCutShort
	}
	cc.mu.Lock()
	if cc.dead {
		cc.mu.Unlock()
		return
	}
	cc.dead, cc.cause = true, cause
	cc.diedAt.Store(monotime())
	cc.deadFlag.Store(true) // before the shards are emptied: register checks it under their locks
	err := cc.lostErrorLocked()
	cc.mu.Unlock()
	for i := range cc.pending.shards {
		sh := &cc.pending.shards[i]
		sh.mu.Lock()
		for id, ca := range sh.calls {
			delete(sh.calls, id)
			if !ca.ping {
				// Uncounted before its caller wakes: a caller that has
				// returned is not in flight (Metrics).
				cc.inflight.Add(-1)
				ca.err, ca.final = err, true
				signal(ca.notify)
			}
		}
		sh.mu.Unlock()
	}
	close(cc.stop)
	// Beneath TLS, as the server's writeFailed does: tls.Conn.Close first
	// writes a close_notify alert, for up to 5 s into a socket the server
	// no longer reads, and after a write cut short onto a torn record.
	netConnBeneath(cc.nc).Close()
	if !errors.Is(cause, ErrClientClosed) {
		cc.client.opts.log.Debug("rpc client: connection lost", "addr", cc.client.addr, "err", cause)
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// waitForRoom holds a call back while more than the client's
// WithMaxQueuedBytes of requests wait to be written on this connection,
// until the server has taken enough, ctx ends or the connection dies. One
// waiter at a time watches the queue drain (having the writer flush it if
// nobody is); the others wait their turn. Its request not yet queued, a
// call that the connection's death ends here fails with an error that says
// so (see notSent): it may be sent on another connection.
//
// size is the request's length, as far as it is known: a call whose
// request would take the queue past the bound waits too, until the queue
// has room for it or nothing waits before it (a request of any size still
// goes out alone).
func (cc *clientConn) waitForRoom(ctx context.Context, size int) error {
	limit := cc.client.opts.maxQueued
	if limit <= 0 {
		return nil
	}
	if q := cc.out.queuedBytes(); q == 0 || q+size <= limit {
		return nil
	}
	mark := max(limit-max(size, 0), 0)
	select {
	case cc.roomTurn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-cc.stop:
		return notSent(cc.lostError())
	}
	defer func() { <-cc.roomTurn }()
	// The writer's goroutine writes: a call must not block in a write
	// past its own context.
	err := cc.out.drainToBy(mark, ctx.Done(), cc.stop, func() { signal(cc.kick) })
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case cc.isDead():
		return notSent(cc.lostError())
	}
	if errors.Is(err, errWriteStalled) {
		cc.client.stats.stuck.Add(1)
	}
	cc.fail(err)
	return notSent(cc.lostError())
}

// lostError is the error of a call on a dead connection: ErrClientClosed
// when Close killed it, otherwise ErrConnectionLost wrapping the cause the
// connection died of (ErrHeartbeatTimeout, say), whatever error the call
// itself then saw (a write on the closed socket).
func (cc *clientConn) lostError() error {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.lostErrorLocked()
}

// lostErrorLocked is lostError; cc.mu is held.
func (cc *clientConn) lostErrorLocked() error {
	if errors.Is(cc.cause, ErrClientClosed) {
		return ErrClientClosed
	}
	return connLost(cc.cause)
}

// writerFailure is the first failure of the connection's writer, nil while
// it has not failed.
func (cc *clientConn) writerFailure() error {
	cc.out.mu.Lock()
	defer cc.out.mu.Unlock()
	return cc.out.err
}

// send writes one request frame (or, with event, an event frame: data is
// then its raw JSON) and flushes. A request's data is as encodeAhead
// returned it (Client.start): a value whose encoding runs the
// application's code comes encoded, since its MarshalJSON may be slow or
// block, and under the buffer's lock it would hold up the connection's
// other calls past their contexts, and the failing of calls when the
// connection dies; any other is encoded straight into the write buffer. A
// frame the writer refused, having failed, never left: the error says so
// (see notSent).
func (cc *clientConn) send(ctx context.Context, pattern []byte, data any, metadata []byte, id uint64, event bool) error {
	var idBuf [20]byte
	var encErr error
	start, end, gen, err := cc.out.appendFrame(func(dst []byte) ([]byte, error) {
		if event {
			raw, _ := data.(json.RawMessage)
			return wire.AppendEvent(dst, wire.NestJS, pattern, raw, metadata), nil
		}
		id := strconv.AppendUint(idBuf[:0], id, 10)
		if e, ok := data.(encodedValue); ok {
			return wire.AppendRequest(dst, wire.NestJS, pattern, e.buf.b, metadata, id), nil
		}
		out, err := wire.AppendRequestOf(dst, wire.NestJS, pattern, data, metadata, id)
		encErr = err
		return out, err
	})
	if encErr != nil {
		return fmt.Errorf("rpc: encoding call data: %w", encErr) // nothing was written
	}
	if err != nil {
		cc.fail(err) // the writer had failed: it dropped the frame
		return notSent(cc.lostError())
	}
	if event {
		return cc.flushEvent(ctx, start, end, gen)
	}
	return cc.flush(ctx, gen, end, end-start)
}

// flush writes what is queued, until ctx ends and within the write timeout
// (see batchWriter). Only the goroutine that flushes waits on the socket;
// a call whose frame another goroutine is writing returns at once and waits
// for its reply under its own context.
//
// A lone call writes its request itself: the lowest latency. With other
// calls in flight, the writer goroutine writes instead (see writeLoop), so
// that the requests of many callers leave in one write rather than one
// system call each, which was most of a busy client's CPU.
//
// A lone call's request of more than lonelyWriteMax bytes (size), under a
// context that can end, is written by the writer goroutine too, the call
// waiting for it: when the context ends the call returns and the write
// goes on, so that the connection, and the calls queued behind it, live on
// (a write cut short would leave the stream in the middle of a frame). A
// small request is written at once unless the peer stopped reading: then a
// write cut short by the context fails the connection (stuck, redialled).
func (cc *clientConn) flush(ctx context.Context, gen uint64, end, size int) error {
	if cc.inflight.Load() > 1 {
		signal(cc.kick)
		return nil
	}
	if size > lonelyWriteMax && ctx.Done() != nil {
		err := cc.out.waitWritten(gen, end, ctx.Done(), cc.stop, func() { signal(cc.kick) })
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err() // the write goes on
		}
		cc.fail(err) // the writer failed (its goroutine fails the connection too), or it is gone
		return cc.lostError()
	}
	return cc.flushAlone(ctx)
}

// flushEvent has an event's frame, appended in generation gen from start
// to end, written. With calls in flight the writer goroutine writes it,
// and a failure of that write is the connection's, not the Emit's (see
// flush). Otherwise the event is written before Emit returns, or not at
// all: an Emit finding no write in progress writes it itself (flushAlone:
// a write its context cuts short goes no further, the connection failed);
// one finding another goroutine writing waits, under its own context, for
// that goroutine to write it, and gets the write's failure. When its
// context ends first, its frame is taken back if still the unwritten tail
// of the buffer; otherwise (another frame follows it, or it is being
// written) it may still go out.
func (cc *clientConn) flushEvent(ctx context.Context, start, end int, gen uint64) error {
	if cc.inflight.Load() > 0 { // an event is not counted in inflight: any call is another
		signal(cc.kick)
		return nil
	}
	if err := cc.flushAlone(ctx); err != nil {
		if cc.out.frameOut(gen, end) {
			return nil // the event left whole before the write failed
		}
		return err
	}
	// Written by our own flush (waitWritten returns at once), or left to
	// the goroutine flushing.
	err := cc.out.waitWritten(gen, end, ctx.Done(), cc.stop, func() { signal(cc.kick) })
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		cc.out.rewriteTail(gen, end, func(dst []byte) []byte { return dst[:start] })
		return ctx.Err()
	}
	cc.fail(err)
	return cc.lostError()
}

// flushAlone writes the buffer, with the caller's frame, when no other
// goroutine is writing, until ctx ends (see batchWriter.flushFor): a write
// cut short fails the connection. Only the caller whose context ended gets
// its context's error; the connection fails with errWriteCutShort (see
// fail). It returns nil at once if another goroutine is writing.
func (cc *clientConn) flushAlone(ctx context.Context) error {
	var until int64
	if d, ok := ctx.Deadline(); ok {
		// Saturating: a deadline "forever" away must not wrap to the past.
		until = max(monoAdd(monotime(), time.Until(d)), 1)
	}
	err := cc.out.flushFor(ctx, until, func() { signal(cc.kick) })
	if err == nil {
		return nil
	}
	if errors.Is(err, errWriteStalled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		cc.client.stats.stuck.Add(1) // the request's write was cut short
	}
	cc.fail(err)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if until != 0 && monotime() >= until {
		return context.DeadlineExceeded // our deadline cut the write, before ctx's timer fired
	}
	// Another cause killed the connection while we wrote (Close,
	// heartbeats, the peer): the write's own error is only the closed
	// socket's.
	return cc.lostError()
}

// lonelyWriteMax is the largest request a lone call under a context that
// can end writes itself (see flush): one that leaves in one write to a
// peer that reads.
const lonelyWriteMax = 64 << 10

// writeLoop flushes the requests of calls that left it to the writer. It
// yields before each flush: the callers the scheduler has ready (those the
// reader has just woken with their replies, say) then queue their next
// requests first, and one write takes them all.
func (cc *clientConn) writeLoop() {
	for {
		select {
		case <-cc.stop:
			return
		case <-cc.kick:
		}
		runtime.Gosched()
		if err := cc.out.flush(); err != nil {
			if errors.Is(err, errWriteStalled) {
				cc.client.stats.stuck.Add(1)
			}
			cc.fail(err)
			return
		}
	}
}

// readLoop reads reply frames until the connection dies.
func (cc *clientConn) readLoop() {
	var sc wire.FrameScanner
	sc.MaxUnits = cc.client.opts.maxFrame
	buf := make([]byte, 16<<10)
	r, w := 0, 0
	// The frame being received: when its first bytes came, and how many
	// have come since.
	var frameStart int64
	var frameBytes int
	for {
		f, err := sc.Scan(buf[r:w])
		if err != nil {
			cc.fail(err)
			return
		}
		if f.Len > 0 {
			body := f.Body
			if f.InvalidUTF8 {
				body = wire.SanitizeUTF8(nil, body)
			}
			cc.deliver(body)
			now := monotime()
			cc.lastRead.Store(now)
			cc.lastFrame.Store(now)
			r += f.Len
			frameStart, frameBytes = 0, 0
			continue
		}
		// Need more input: compact, grow for a long frame, read. After a
		// long reply the big buffer is given back.
		if r == w {
			r, w = 0, 0
			if len(buf) > 64<<10 {
				buf = make([]byte, 16<<10)
			}
		} else if r > 0 {
			w = copy(buf, buf[r:w])
			r = 0
		}
		// Counted beyond w, not from 0: w plus a frame announced as long
		// as an int allows (WithMaxFrameSize(math.MaxInt); on 32-bit
		// platforms "2147483647#") would wrap negative, the full buffer
		// would not grow, and Read with no room returns at once: a spin.
		if more := max(sc.MinRemaining(), 4<<10); more > len(buf)-w && len(buf)-w < 4<<10 {
			// Grow with what has arrived, never from the announced length
			// (as the server does): only when the buffer is nearly full,
			// doubling at most, so a frame announced long but sent slowly,
			// or never, costs no more than about twice its bytes received.
			nb := make([]byte, w+min(more, max(2*len(buf)-w, 4<<10)))
			copy(nb, buf[:w])
			buf = nb
		}
		n, err := cc.nc.Read(buf[w:])
		w += n
		if n > 0 {
			// Part of a frame is life only while the frame keeps coming at
			// minFrameRate on average, as the server holds its peers to:
			// a server trickling a reply must not keep the connection,
			// and every call on it, from being found stuck. Bytes ahead
			// of the rate earn at most the heartbeat timeout of credit,
			// as on the server: a burst must not buy a trickle hours.
			now := monotime()
			if frameStart == 0 {
				frameStart = now
			}
			frameBytes += n
			if credit := cc.client.opts.heartbeatTimeout; credit > 0 {
				frameBytes = creditedBytes(frameBytes, frameStart, now, credit, DefaultMinFrameRate)
			}
			if elapsed := now - frameStart; elapsed < int64(time.Second) ||
				int64(frameBytes)*int64(time.Second)/elapsed >= DefaultMinFrameRate {
				cc.lastRead.Store(now)
			}
		}
		if err != nil && n == 0 {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			if werr := cc.writerFailure(); werr != nil {
				// The writer failed first and closed the socket (a
				// write cut short): its failure is the cause.
				err = werr
			}
			cc.fail(err)
			return
		}
	}
}

// queuedCost is what a stream value waiting for its consumer costs: its
// bytes and its queue entry (and allocation), so that a stream of tiny
// values is held to WithMaxStreamBuffer too (1-byte values held 60 times
// the bound when only the bytes counted).
func queuedCost(v []byte) int { return len(v) + 64 }

// deliver hands one reply frame to its call.
func (cc *clientConn) deliver(body []byte) {
	rep, ok, err := wire.ParseReply(body, wire.NoDepthLimit)
	if err != nil {
		cc.client.opts.log.Debug("rpc client: dropping a frame that is not a reply", "err", err)
		return
	}
	if !ok && !rep.HasReplyMember() {
		// A foreign object carrying a call's id is that call's whole and
		// last value, as NestJS's client takes it (its deserializer keeps
		// the id and disposes); unknown members beside reply members are
		// ignored, as NestJS 10 and 11 do and as natsrpc's client does.
		rep = wire.Reply{ID: rep.ID, Response: bytes.TrimSpace(body), IsDisposed: true, Disposed: []byte("true")}
	}
	id, err := strconv.ParseUint(string(rep.ID), 10, 64)
	if err != nil {
		return // not one of our ids
	}
	sh := cc.pending.shard(id)
	sh.mu.Lock()
	ca := sh.calls[id]
	if ca == nil {
		sh.mu.Unlock()
		if id == cc.lastPing.Load() {
			cc.replied.Store(true)
			cc.pong(rep) // a NestJS server's late no-handler answer
		}
		return // a late reply to a call that gave up
	}
	if !cc.replied.Load() {
		cc.replied.Store(true)
	}
	if ca.ping {
		delete(sh.calls, id)
		sh.mu.Unlock()
		cc.pong(rep)
		return
	}
	switch {
	case rep.HasError():
		e := newRemoteError(rep.Err, rep.Status)
		if ca.stream {
			ca.queue = append(ca.queue, callItem{err: e})
		}
		ca.err, ca.final = e, true
	default:
		if v := replyValue(rep); v != nil {
			if ca.stream {
				if limit := cc.client.opts.maxStreamBuffer; limit > 0 && ca.buffered > 0 && ca.buffered+queuedCost(v) > limit {
					// The consumer fell behind: end the call rather than
					// buffer without bound. What it has not taken stays.
					ca.queue = append(ca.queue, callItem{err: ErrStreamOverflow})
					ca.err, ca.final = ErrStreamOverflow, true
					break
				}
				ca.queue = append(ca.queue, callItem{value: v})
				ca.buffered += queuedCost(v)
			} else {
				ca.last, ca.hasLast = v, true
			}
		}
		ca.final = rep.IsDisposed
	}
	if ca.final {
		delete(sh.calls, id)
		cc.inflight.Add(-1)
	}
	// Signalled after the unlock, so that the caller it wakes finds the
	// lock free. Once final, the call may be recycled as soon as the lock
	// is released: a wake-up reaching its next use is a spurious one,
	// which every waiter takes (it looks, and waits again).
	notify := ca.notify
	sh.mu.Unlock()
	signal(notify)
}

// Heartbeats. The connection pings when it has read nothing, or written
// nothing, for the interval (a server that has had one ping expects more,
// also while the client only reads a long stream); any frame read counts
// as life, and so does a frame arriving
// at DefaultMinFrameRate (500 B/s) or faster. A ping unanswered for the
// timeout kills the connection; with a negative timeout none does. The
// writer goroutine writes the pings (see queuePing). A NestJS server
// answers the ping with its no-handler error: the client then knows it
// speaks no heartbeats and stops pinging.
const (
	hbUnknown int32 = iota
	hbUnsupported
)

func (cc *clientConn) heartbeatLoop() {
	o := cc.client.opts
	tick := time.NewTicker(max(o.heartbeatInterval/4, time.Millisecond))
	defer tick.Stop()
	var (
		pingSent   int64  // monotime of the outstanding ping, 0 if none
		pingID     uint64 // its call id
		pingGen    uint64 // where its frame is (batchWriter.frameOut)
		pingEndOff int
		pingOutAt  int64 // monotime its frame was first seen written, 0 until then
		// While a ping is out, what the server had acknowledged at the
		// last look (peerAcked; ackKnown: whether there was one) and
		// when that count last moved while the ping was not yet all
		// acknowledged: the server taking the bytes before it. pingEnd
		// is what that count reaches once every byte written by the
		// time the ping's frame was seen out is acknowledged.
		acked    uint64
		ackKnown bool
		ackedAt  int64
		pingEnd  uint64
		// When bytes were last seen written: a server holds a client
		// that pinged once to keep sending, also while the client only
		// reads (a long stream).
		written = cc.written.Load()
		wroteAt = monotime()
	)
	for {
		select {
		case <-cc.stop:
			return
		case <-tick.C:
		}
		now := monotime()
		last := cc.lastRead.Load()
		if w := cc.written.Load(); w != written {
			written, wroteAt = w, now
		}
		if pingSent != 0 && cc.lastFrame.Load() >= pingSent {
			// Answered: any whole frame counts. A server that answers
			// calls but ignores pings would otherwise leave each ping
			// pending. Part of a frame does not: it may be the ping's
			// own reply, still to be delivered (a NestJS server's
			// no-handler error, which says it has no heartbeats).
			pingSent = 0
			cc.lastPing.Store(pingID)
			cc.forget(pingID)
		}
		if cc.hbMode.Load() == hbUnsupported {
			continue
		}
		if pingSent != 0 && pingOutAt == 0 && cc.out.frameOut(pingGen, pingEndOff) {
			// Where the ping ends in the count of acknowledged bytes (on
			// the wire: over TLS the plaintext written is fewer bytes).
			pingOutAt, pingEnd = now, 0
			if end, ok := peerAckedEnd(cc.nc); ok {
				pingEnd = end
			}
		}
		if pingSent != 0 {
			if n, ok := peerAcked(cc.nc); ok {
				// Once the ping is all acknowledged, the server has it:
				// acknowledgements of later bytes (other calls) do not
				// answer it.
				if ackKnown && n > acked && (pingOutAt == 0 || acked < pingEnd) {
					ackedAt = now
				}
				acked, ackKnown = n, true
			}
		}
		// Until the ping has left, the server cannot answer it: bytes it
		// takes (an upload queued before the ping) are its answer; once
		// the ping has left, only bytes read are. Both ways, bytes its
		// system acknowledges count (peerAcked): a Write into a full
		// send buffer returns only once much of it has drained (Linux
		// wakes a writer when half of a buffer of megabytes is free),
		// and the ping may wait behind the upload's tail there.
		alive := max(pingOutAt, last, ackedAt)
		if pingOutAt == 0 {
			alive = max(pingSent, last, wroteAt, ackedAt)
		}
		if o.heartbeatTimeout > 0 && pingSent != 0 && now-alive > int64(o.heartbeatTimeout) {
			cc.client.stats.heartbeatFailures.Add(1)
			cc.fail(ErrHeartbeatTimeout)
			return
		}
		if pingSent == 0 && (now-last >= int64(o.heartbeatInterval) || now-wroteAt >= int64(o.heartbeatInterval)) {
			id, err := cc.register(&call{ping: true})
			if err != nil {
				return
			}
			pingSent, pingID, pingOutAt, ackKnown, ackedAt = now, id, 0, false, 0
			cc.client.stats.heartbeats.Add(1)
			var queuedAt int64
			if pingGen, pingEndOff, queuedAt, err = cc.queuePing(id); err != nil {
				cc.fail(err)
				return
			}
			// queuePing may have waited for the buffer's lock: the
			// ping's timeout runs from when it was queued, not from when
			// it was due, or that wait would count as the server's
			// silence. Not from now either: the answer may already have
			// come (lastFrame), and a later pingSent would never see it.
			pingSent = max(queuedAt, pingSent)
		}
	}
}

// queuePing queues the ping id for the writer goroutine. The heartbeat
// loop never writes itself: a write may block (for ever with
// WithWriteTimeout(0), the server reading nothing), carrying a call's
// request as well as the ping, and the loop must go on to time its ping
// out.
// It returns where the ping's frame is (see batchWriter.frameOut).
func (cc *clientConn) queuePing(id uint64) (gen uint64, end int, queuedAt int64, err error) {
	var idBuf [20]byte
	_, end, gen, err = cc.out.appendFrame(func(dst []byte) ([]byte, error) {
		// Under the buffer's lock: before any goroutine can write the
		// ping, so before its answer can come.
		queuedAt = monotime()
		return wire.AppendRequestOf(dst, wire.NestJS, heartbeatPatternJSON, nil, nil, strconv.AppendUint(idBuf[:0], id, 10))
	})
	if err == nil {
		signal(cc.kick)
	}
	return gen, end, queuedAt, err
}

// pong handles the reply to a ping, removed from the pending table.
func (cc *clientConn) pong(rep wire.Reply) {
	if rep.HasError() {
		var text string
		if json.Unmarshal(rep.Err, &text) == nil && text == wire.NoHandlerMessage {
			cc.hbMode.Store(hbUnsupported)
			cc.client.opts.log.Debug("rpc client: the server has no heartbeats (NestJS?); relying on TCP keepalive", "addr", cc.client.addr)
		}
		return
	}
}
