package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// batchWriter coalesces the frames of many goroutines into few writes.
// Frames are appended to a buffer under a short lock and written by
// whichever goroutine flushes first: one write carries every frame ready at
// that moment, and a goroutine that finds a flush in progress leaves its
// frame to it. There is no writer goroutine, and no buffer is held while
// nothing waits to be written. Server connections and client connections
// both use it.
//
// Locking: mu is held only to append to or swap the buffer, never across a
// socket write. The goroutine that set flushing owns the socket's write
// side until it clears it; it blocks at most until a write makes no
// progress for timeout. So a peer that stops reading can hold up at most
// the one goroutine flushing to it, never the lock that others take.
type batchWriter struct {
	nc    net.Conn
	bytes *atomic.Uint64 // counts bytes written; may be nil

	// timeout fails a write that makes no progress for this long (the
	// deadline is renewed after each partial write); 0 means none.
	timeout time.Duration
	// maxQueued fails the writer when more than this many bytes wait to be
	// written, unless the buffer was empty before the frame (one frame of
	// any size still goes out, alone); 0 means no cap.
	maxQueued int
	// budget, when set, is charged for queued bytes. While it is over its
	// limit, a frame that would leave more than overBudgetMark bytes
	// waiting for the next write, while the write in progress has taken
	// nothing for overBudgetStall, fails the writer as maxQueued does: the
	// peers holding the most unread replies give the memory back, whatever
	// produces them. (A peer reading a big reply, or one whose replies have
	// yet to be written, is not stalled.)
	budget         *memoryBudget
	overBudgetMark int
	// onOverBudget, when set, is called without locks held after a frame
	// left the budget over its limit (the server's shedder).
	onOverBudget func()
	// onFail is called once, without locks held, when the writer first
	// fails (write error, stalled write, queue over maxQueued).
	onFail func(error)

	mu  sync.Mutex
	buf *writeBuf // nil while nothing waits to be written
	gen uint64    // counts buffer swaps, so a mark can tell if its frame left
	// writtenTo: every frame appended in a generation below it has been
	// written. writtenCh, made by a waiter (waitWritten), is closed when
	// writtenTo moves or the writer fails.
	writtenTo uint64
	writtenCh chan struct{}
	// failedGen and failedSent: the generation whose write failed, and
	// how many of its bytes left first (the frames within them were sent).
	failedGen  uint64
	failedSent int
	flushing   bool
	flushSeq   uint64        // counts flushes begun, so that an abort finds its own
	err        error         // the first failure; later frames are dropped
	drained    chan struct{} // closed when a flush ends, made by a waiter (drainToBy)

	writing    int          // bytes of the buffer being written, held (and charged) until its write ends; under mu
	queued     atomic.Int64 // bytes appended and not yet written
	progressAt atomic.Int64 // monotime a flush began or last wrote bytes
	pieceLen   atomic.Int64 // bytes asked of the Write call in progress: its stall is judged by them
	// stallAcked is what the peer had acknowledged (peerAcked) when a
	// write was last judged stalled (see stalledLocked); under mu. It
	// starts at 0, as the count did.
	stallAcked uint64
	// deadlineAt is the monotime of the write deadline in force (0: none,
	// -1: one that must be replaced); only the flushing goroutine uses it.
	deadlineAt int64
	// armAcked is what the peer had acknowledged (peerAcked) when a
	// renewable deadline was armed, armKnown whether that is known: a
	// write that times out having taken nothing made progress all the
	// same if the peer acknowledged bytes meanwhile. Only the flushing
	// goroutine uses them.
	armAcked uint64
	armKnown bool
}

var (
	// errSlowConsumer fails a connection whose peer does not read its
	// replies: too many bytes queued, or a write that made no progress.
	errSlowConsumer = errors.New("rpc: peer is not reading (slow consumer)")
	// errWriteStalled is the cause of a write that made no progress for
	// the write timeout.
	errWriteStalled = errors.New("rpc: write made no progress within the write timeout")
)

// writeBuf is a pooled write buffer; the pointer travels with the slice so
// that returning it to the pool allocates nothing.
type writeBuf struct{ b []byte }

// writeBufs recycles write buffers between bursts.
var writeBufs = sync.Pool{New: func() any { return &writeBuf{b: make([]byte, 0, 4<<10)} }}

// maxPooledWriteBuf keeps one huge frame from pinning its buffer in the pool.
const maxPooledWriteBuf = 256 << 10

func getWriteBuf() *writeBuf {
	wb := writeBufs.Get().(*writeBuf)
	wb.b = wb.b[:0]
	return wb
}

func putWriteBuf(wb *writeBuf) {
	if cap(wb.b) > maxPooledWriteBuf {
		return
	}
	writeBufs.Put(wb)
}

// appendFrame runs f on the buffer under the lock. It returns where the
// frame starts and ends and the buffer's generation. After a failure it
// drops the frame and returns the failure; f's own error leaves the buffer
// as it was.
func (w *batchWriter) appendFrame(f func(dst []byte) ([]byte, error)) (start, end int, gen uint64, err error) {
	return w.appendFrameWithin(-1, f)
}

// errNoRoom is appendFrameWithin's refusal: more than its mark is queued.
var errNoRoom = errors.New("rpc: more than the read-pause mark of replies queued")

// appendFrameWithin is appendFrame, except that when mark >= 0 and more
// than mark bytes wait to be written it appends nothing and returns
// errNoRoom: the check and the append are one step, so that goroutines
// waiting for room (streams) add one frame past the mark between them,
// not one each.
func (w *batchWriter) appendFrameWithin(mark int, f func(dst []byte) ([]byte, error)) (start, end int, gen uint64, err error) {
	var over, overBudget bool
	func() {
		w.mu.Lock()
		defer w.mu.Unlock() // f may encode user values, which may panic
		if w.err != nil {
			err = w.err
			return
		}
		if mark >= 0 && w.queued.Load() > int64(mark) {
			err = errNoRoom
			return
		}
		if w.buf == nil {
			w.buf = getWriteBuf()
		}
		start = len(w.buf.b)
		out, ferr := f(w.buf.b)
		if ferr != nil {
			err = ferr
			return
		}
		w.buf.b = out
		n := len(out) - start
		before := w.queued.Add(int64(n)) - int64(n)
		if w.budget != nil {
			w.budget.charge(int64(n))
			overBudget = w.budget.over()
		}
		if before > 0 && w.maxQueued > 0 && before+int64(n) > int64(w.maxQueued) ||
			start > 0 && w.overBudgetMark > 0 && w.writing+len(out) > w.overBudgetMark && w.budget.over() && w.stalledLocked() {
			over = true
			w.failLocked(errSlowConsumer)
			err = errSlowConsumer
			return
		}
		end, gen = len(out), w.gen
	}()
	if over && w.onFail != nil {
		w.onFail(errSlowConsumer)
	}
	if overBudget && w.onOverBudget != nil {
		w.onOverBudget()
	}
	return start, end, gen, err
}

// shed fails the writer as a slow consumer when it holds more than mark
// bytes (the buffer being written, whole, and what waits behind it) behind
// a write that took nothing for overBudgetStall. pending reports more than
// mark held behind a write not (yet) stalled.
func (w *batchWriter) shed(mark int) (dropped, pending bool) {
	w.mu.Lock()
	held := w.writing
	if w.buf != nil {
		held += len(w.buf.b)
	}
	if w.err != nil || held <= mark {
		w.mu.Unlock()
		return false, false
	}
	if !w.stalledLocked() {
		w.mu.Unlock()
		return false, true
	}
	w.failLocked(errSlowConsumer)
	w.mu.Unlock()
	if w.onFail != nil {
		w.onFail(errSlowConsumer)
	}
	return true, false
}

// overBudgetStall is how long a write must have taken nothing before a
// connection with replies waiting is dropped for a budget that is used up.
const overBudgetStall = 100 * time.Millisecond

// stalledLocked reports whether a write is in progress and has taken
// nothing for overBudgetStall per shortPiece it asks for; mu is held.
// Progress is seen as a Write call returns, so a steady reader of a larger
// piece (begun before the budget was short) gets its time. A Write into a
// full send buffer returns only once much of it is free (Linux wakes the
// writer when half of a buffer of megabytes is), so where the kernel tells
// (peerAcked), the piece's worth of bytes the peer acknowledged since the
// last judgement is progress too (shortPiece per overBudgetStall, the same
// 160 KB/s): any byte would let a peer that reads a segment now and then
// hold its replies. (The look is a system call that never blocks, made
// only while the budget is short. On TLS the count includes the
// handshake's few KiB, counted once.)
func (w *batchWriter) stalledLocked() bool {
	pieces := max(w.pieceLen.Load()/shortPiece, 1)
	now := monotime()
	if !w.flushing || now-w.progressAt.Load() <= pieces*int64(overBudgetStall) {
		return false
	}
	acked, ok := peerAcked(w.nc)
	if !ok {
		return true
	}
	// The piece's worth, as a Write call must take: a peer whose kernel
	// acknowledges a segment now and then is not a reader.
	took := acked >= w.stallAcked+uint64(pieces)*shortPiece
	w.stallAcked = acked
	if !took {
		return true
	}
	w.progressAt.Store(now)
	return false
}

// failLocked records the first failure and drops what waits; mu is held.
func (w *batchWriter) failLocked(err error) {
	if w.err != nil {
		return
	}
	w.err = err
	w.wakeWaitersLocked()
	if w.buf != nil && !w.flushing {
		w.dropLocked(w.buf)
		w.buf = nil
	}
}

// fail fails the writer with err, unless it failed already, and reports
// it to onFail.
func (w *batchWriter) fail(err error) {
	w.mu.Lock()
	first := w.err == nil
	w.failLocked(err)
	w.mu.Unlock()
	if first && w.onFail != nil {
		w.onFail(err)
	}
}

// dropLocked forgets a buffer that will not be written.
func (w *batchWriter) dropLocked(wb *writeBuf) {
	n := int64(len(wb.b))
	w.discard(int(n))
	putWriteBuf(wb)
}

// broken reports whether the writer has failed.
func (w *batchWriter) broken() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err != nil
}

// queuedBytes is how many bytes wait to be written, including those of a
// write in progress.
func (w *batchWriter) queuedBytes() int { return int(w.queued.Load()) }

// rewriteTail runs f on the buffer when the frame ending at end, appended
// in generation gen, is still its unwritten tail, and reports whether it did.
func (w *batchWriter) rewriteTail(gen uint64, end int, f func(dst []byte) []byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil || w.buf == nil || gen != w.gen || end != len(w.buf.b) || end == 0 {
		return false
	}
	out := f(w.buf.b)
	n := int64(len(out) - len(w.buf.b))
	w.buf.b = out
	w.queued.Add(n)
	if w.budget != nil {
		w.budget.charge(n)
	}
	return true
}

// flush writes out the buffer, and whatever is appended meanwhile, unless
// another goroutine is already doing so (it will take ours too). It returns
// the first failure.
func (w *batchWriter) flush() error { return w.flushUntil(0) }

// flushUntil is flush with a write deadline no later than until (a
// monotime; 0 means only the writer's timeout applies). A write cut short
// by until fails the writer: the stream may end in the middle of a frame.
func (w *batchWriter) flushUntil(until int64) error {
	return w.flushFor(context.Background(), until, nil)
}

// flushFor is flushUntil for a caller that gives up when ctx ends: if the
// flush it began is still writing then, the writer fails with ctx's error
// and the connection is closed to cut the write short, as when until
// passes. With handOff set, the caller writes only the buffer it found,
// which holds its own frame, and calls handOff to have the rest, frames
// of others, written by another goroutine: neither ctx nor until may cut
// those short.
func (w *batchWriter) flushFor(ctx context.Context, until int64, handOff func()) error {
	w.mu.Lock()
	if w.flushing || w.buf == nil || len(w.buf.b) == 0 {
		err := w.err
		w.mu.Unlock()
		return err
	}
	w.flushing = true
	w.flushSeq++
	if ctx.Done() != nil {
		seq := w.flushSeq
		stop := context.AfterFunc(ctx, func() { w.abort(seq, ctx.Err()) })
		defer stop()
	}
	if w.overBudgetMark > 0 {
		w.progressAt.Store(monotime())
	}
	var failed error
	for w.buf != nil && len(w.buf.b) > 0 && w.err == nil {
		buf := w.buf
		w.buf = nil
		w.gen++
		gen := w.gen
		w.writing = len(buf.b)
		w.mu.Unlock()
		sent, err := w.write(buf.b, until)
		putWriteBuf(buf)
		w.mu.Lock()
		w.writing = 0
		if err != nil {
			w.failedGen, w.failedSent = gen, sent
		}
		if err != nil && w.err == nil {
			w.err, failed = err, err
		}
		if err == nil {
			w.writtenTo = gen
		}
		w.wakeWaitersLocked()
		if handOff != nil {
			break
		}
	}
	if w.err != nil && w.buf != nil {
		w.dropLocked(w.buf)
		w.buf = nil
	}
	w.flushing = false
	more := handOff != nil && w.err == nil && w.buf != nil && len(w.buf.b) > 0
	err := w.err
	if w.drained != nil { // every waiter looks again: the reader, stream handlers
		close(w.drained)
		w.drained = nil
	}
	w.mu.Unlock()
	if failed != nil && w.onFail != nil {
		w.onFail(failed)
	}
	if more {
		handOff()
	}
	return err
}

// abort fails the writer with cause and closes the connection, if the
// flush numbered seq is still in progress.
func (w *batchWriter) abort(seq uint64, cause error) {
	w.mu.Lock()
	live := w.flushing && w.flushSeq == seq && w.err == nil
	if live {
		w.failLocked(cause)
	}
	w.mu.Unlock()
	if live {
		w.nc.Close()
	}
}

// wakeWaitersLocked wakes the goroutines in waitWritten; mu is held.
func (w *batchWriter) wakeWaitersLocked() {
	if w.writtenCh != nil {
		close(w.writtenCh)
		w.writtenCh = nil
	}
}

// frameOut reports whether the frame appended in generation gen, ending at
// offset end of its buffer, has left: written, or sent whole before the
// write of its buffer failed.
func (w *batchWriter) frameOut(gen uint64, end int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.outLocked(gen, end)
}

func (w *batchWriter) outLocked(gen uint64, end int) bool {
	return w.writtenTo > gen || w.failedGen == gen+1 && w.failedSent >= end
}

// waitWritten waits until the frame appended in generation gen, ending at
// offset end of its buffer, has been written, having the writer's goroutine write it (kick) when nobody is
// flushing: the caller never writes itself, so that it can stop waiting
// when done closes (it then returns context.Canceled) and leave the write
// to go on; likewise when stop closes (the connection is gone, and with it
// the writer's goroutine). It returns the writer's failure, if it failed
// before the frame was out (a frame sent whole before a failure is
// written). Any number of goroutines may wait at once.
func (w *batchWriter) waitWritten(gen uint64, end int, done, stop <-chan struct{}, kick func()) error {
	stopped := false
	for {
		w.mu.Lock()
		if w.outLocked(gen, end) {
			w.mu.Unlock()
			return nil
		}
		if w.err != nil {
			err := w.err
			w.mu.Unlock()
			return err
		}
		if stopped && !w.flushing { // nobody is left to write it
			w.mu.Unlock()
			return context.Canceled
		}
		if !w.flushing {
			kick()
		}
		if w.writtenCh == nil {
			w.writtenCh = make(chan struct{})
		}
		ch := w.writtenCh
		w.mu.Unlock()
		select {
		case <-ch:
		case <-done:
			return context.Canceled
		case <-stop:
			// The connection is gone and its socket closed: a write in
			// progress ends soon, and may have taken the frame first
			// (its bytes left before the peer hung up). Wait for it,
			// then look again.
			stop, stopped = nil, true
		}
	}
}

// maxWritePiece bounds one Write call, so that the write deadline is
// renewed as a long buffer goes out. A TLS connection cannot resume a write
// that timed out, so for it a piece is one record (maxTLSWritePiece): a
// peer taking bytes is then dropped only when it takes none of a record
// for the timeout, as a TCP peer is. While the memory budget is short,
// pieces are shortPiece, so that the shedder sees a steady reader's
// progress (a Write call reports it only as it returns): a peer is shed
// only when it takes less than shortPiece per overBudgetStall (160 KB/s).
const (
	maxWritePiece    = 256 << 10
	maxTLSWritePiece = 16 << 10
	shortPiece       = 16 << 10
)

// write writes b, renewing the write deadline while the peer takes bytes,
// and returns how many of its bytes left. Only the flushing goroutine
// calls it. The budget gets b's bytes back when
// the write ends, not as they leave: the buffer is held until then.
func (w *batchWriter) write(b []byte, until int64) (sent int, err error) {
	defer w.release(len(b))
	total := len(b)
	_, isTLS := w.nc.(*tls.Conn)
	piece := maxWritePiece
	if isTLS {
		piece = maxTLSWritePiece
	}
	// seen is when the peer was last seen taking bytes, as far as is
	// known: the write began, a Write returned some, or a look at the
	// peer's acknowledgements found more. A TCP write's deadline is a point
	// at which to look (see armDeadline), and the write fails once the peer
	// has been seen taking nothing for the timeout.
	seen := monotime()
	for len(b) > 0 {
		if err = w.armDeadline(until, isTLS); err != nil {
			break
		}
		p := piece
		if w.budget != nil && w.budget.short() {
			p = min(p, shortPiece)
		}
		p = min(p, len(b))
		w.pieceLen.Store(int64(p))
		var n int
		n, err = w.nc.Write(b[:p])
		w.written(n)
		b = b[n:]
		if err == nil {
			seen = monotime()
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if until != 0 && monotime() >= until {
				err = context.DeadlineExceeded
				break
			}
			if !isTLS {
				now := monotime()
				if n > 0 || w.peerAckedSinceArm() {
					seen = now
				}
				if now-seen < int64(w.timeout) {
					w.deadlineAt = 0 // look again
					err = nil
					continue
				}
			}
			err = errWriteStalled
		}
		break
	}
	w.unqueue(len(b))
	return total - len(b), err
}

// written accounts for n bytes that left.
func (w *batchWriter) written(n int) {
	if n > 0 && w.overBudgetMark > 0 {
		w.progressAt.Store(monotime())
	}
	w.unqueue(n)
	if w.bytes != nil {
		w.bytes.Add(uint64(n))
	}
}

// discard accounts for n queued bytes that are gone, dropped with their
// buffer.
func (w *batchWriter) discard(n int) {
	w.unqueue(n)
	w.release(n)
}

// unqueue accounts for n queued bytes that are no longer waiting.
func (w *batchWriter) unqueue(n int) {
	if n != 0 {
		w.queued.Add(-int64(n))
	}
}

// release gives n bytes of buffer back to the budget.
func (w *batchWriter) release(n int) {
	if n != 0 && w.budget != nil {
		w.budget.charge(-int64(n))
	}
}

// armDeadline sets the write deadline: timeout from now (on TCP a quarter
// of it, see below), or until if that is sooner. Setting one costs a
// little, so a deadline set by timeout alone is kept while less than a
// quarter of it has passed (on TCP an eighth): a TLS write then still gets
// at least three quarters of the timeout. A TCP write's deadline is only a
// point at which to see whether the peer took bytes meanwhile (write fails
// once the peer has been seen taking none for the timeout): were it the
// whole timeout, a peer that took bytes just after it was set and none
// after would be dropped only after twice the timeout. Looking at least
// every quarter of it drops such a peer within one and a quarter.
func (w *batchWriter) armDeadline(until int64, isTLS bool) error {
	if w.timeout <= 0 && until == 0 {
		if w.deadlineAt == 0 {
			return nil
		}
		w.deadlineAt = 0
		return w.nc.SetWriteDeadline(time.Time{})
	}
	span, keep := int64(w.timeout), int64(w.timeout/4)
	if !isTLS {
		span, keep = span/4, span/8
	}
	now := monotime()
	if until == 0 && w.deadlineAt > 0 && now-(w.deadlineAt-span) < keep {
		return nil
	}
	at := until
	// Saturating: a timeout of time.Duration(math.MaxInt64) ("forever")
	// must not wrap to a deadline already passed.
	if w.timeout > 0 && (at == 0 || monoAdd(now, time.Duration(span)) < at) {
		at = monoAdd(now, time.Duration(span))
	}
	w.deadlineAt = at
	w.armKnown = false
	if until != 0 {
		w.deadlineAt = -1 // not renewable: the next write sets its own
	} else {
		// At most once per timeout/4 (renewals are spaced so): the
		// system call costs nothing per frame.
		w.armAcked, w.armKnown = peerAcked(w.nc)
	}
	return w.nc.SetWriteDeadline(monoTime(at))
}

// peerAckedSinceArm reports whether the peer acknowledged bytes since the
// deadline was armed. A Write blocked on a full send buffer returns only
// once much of it is free again (Linux wakes a writer when half of a
// buffer that grows to megabytes is free), so a peer reading steadily but
// slowly may take nothing from a whole Write's timeout and still be
// reading.
func (w *batchWriter) peerAckedSinceArm() bool {
	if !w.armKnown {
		return false
	}
	acked, ok := peerAcked(w.nc)
	return ok && acked > w.armAcked
}

// drainTo blocks until at most mark bytes wait to be written, flushing
// itself when no other goroutine is; it returns early when done1 or done2
// closes (either may be nil). Any number of goroutines may wait at once
// (the connection's reader, stream handlers): a flush's end wakes them all.
func (w *batchWriter) drainTo(mark int, done1, done2 <-chan struct{}) error {
	return w.drainToBy(mark, done1, done2, nil)
}

// drainToBy is drainTo, except that with kick set the caller never writes
// itself (its wait must end with done1, not with the write timeout): when
// nobody is flushing, it calls kick to have the writer's goroutine do so.
func (w *batchWriter) drainToBy(mark int, done1, done2 <-chan struct{}, kick func()) error {
	for {
		if w.queued.Load() <= int64(mark) {
			return nil
		}
		w.mu.Lock()
		if w.err != nil {
			err := w.err
			w.mu.Unlock()
			return err
		}
		if !w.flushing && kick == nil {
			w.mu.Unlock()
			if err := w.flush(); err != nil {
				return err
			}
			continue
		}
		if !w.flushing {
			kick() // the flush will signal drained, made below
		}
		if w.drained == nil {
			w.drained = make(chan struct{})
		}
		ch := w.drained
		w.mu.Unlock()
		select {
		case <-ch:
		case <-done1:
			return context.Canceled
		case <-done2:
			return context.Canceled
		}
	}
}
