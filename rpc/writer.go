package rpc

import (
	"context"
	"errors"
	"fmt"

	"github.com/msgpattern/msgpattern/wire"
)

// The server connection's side of replies: frames are appended to the
// connection's batchWriter under the request's lock (which orders one
// request's frames), and written out by commit, called with no lock held.
// The reader flushes before it blocks for input; a handed-off handler
// flushes its own reply.

// commit writes out rc's queued frames unless the inline reader will: it
// flushes before it next blocks, unless its handler overran (it may block
// for as long as the handler runs). A long queue is written at once either
// way.
func (c *conn) commit(rc *requestContext) {
	if rc == nil || c.busy.Load() != rc || rc.overran.Load() || c.out.queuedBytes() > flushThreshold {
		c.flush()
	}
}

func (c *conn) replyFraming() wire.Framing { return c.framing }

// awaitRoom holds a stream's handler while more than readPauseMark bytes of
// replies wait for the peer, as the reader stops reading then: a handler
// streaming faster than a peer that reads would otherwise queue up to
// MaxQueuedReplyBytes and get the peer dropped as a slow consumer. A peer
// that does not read is dropped by the write timeout, which ends the wait.
func (c *conn) awaitRoom(rc *requestContext) error {
	if c.out.queuedBytes() <= c.srv.readPauseMark {
		return nil
	}
	// Not c.quit: a graceful Shutdown lets the stream finish to a peer that
	// reads; rc ends with a disconnect or a forced Shutdown.
	if c.out.drainTo(c.srv.readPauseMark, rc.Done(), nil) == nil {
		return nil
	}
	if c.out.broken() || !errors.Is(rc.Err(), context.DeadlineExceeded) {
		return ErrCallerGone
	}
	return errHeldPastDeadline
}

// errHeldPastDeadline ends a Send held for room when the request's deadline
// passes: the reply is complete (ErrReplyClosed), but its value was queued
// in time; the handler, giving up at its deadline, has no late result to
// drop (producedResult).
var errHeldPastDeadline = fmt.Errorf("%w: %w", ErrReplyClosed, context.DeadlineExceeded)

func (c *conn) writePacket(build func(dst []byte, f wire.Framing) []byte) {
	c.out.appendFrame(func(dst []byte) ([]byte, error) { return build(dst, c.framing), nil })
}

func (c *conn) writeRaw(f func(dst []byte) []byte) {
	c.out.appendFrame(func(dst []byte) ([]byte, error) { return f(dst), nil })
}

func (c *conn) writeValue(rc *requestContext, v any) (replyMark, error) {
	// A stream's value waits for room before it is queued, not only after
	// (awaitRoom): otherwise each stream running on the connection adds a
	// value past the mark, and enough of them overrun MaxQueuedReplyBytes,
	// dropping a peer that reads.
	start, end, gen, err := c.out.appendFrameWithin(c.srv.readPauseMark, func(dst []byte) ([]byte, error) {
		return appendReplyValue(dst, c.framing, v, rc.req.ID, false)
	})
	if err == errNoRoom {
		return replyMark{}, err
	}
	if err != nil && c.out.broken() {
		// The peer is gone: a stream handler that ignores its context
		// must still stop, rather than run on for nothing.
		return replyMark{}, ErrCallerGone
	}
	if err != nil {
		return replyMark{}, err
	}
	return replyMark{gen: gen, start: start, end: end}, nil
}

func (c *conn) writeLast(rc *requestContext, v any) error {
	_, _, _, err := c.out.appendFrame(func(dst []byte) ([]byte, error) {
		return appendReplyValue(dst, c.framing, v, rc.req.ID, true)
	})
	if err != nil && c.out.broken() {
		return nil
	}
	return err
}

func (c *conn) writeEnd(rc *requestContext, last replyMark) {
	merged := c.out.rewriteTail(last.gen, last.end, func(dst []byte) []byte {
		return wire.MarkDisposed(dst, c.framing, last.start, rc.req.ID)
	})
	if !merged {
		c.writeRaw(func(dst []byte) []byte { return wire.AppendDisposed(dst, c.framing, rc.req.ID) })
	}
}

func (c *conn) writeError(rc *requestContext, errJSON []byte) {
	c.out.appendFrame(func(dst []byte) ([]byte, error) {
		return wire.AppendError(dst, c.framing, errJSON, rc.req.ID), nil
	})
}

// flush writes what is queued, unless another goroutine is doing so. A
// failure is handled by writeFailed.
func (c *conn) flush() { c.out.flush() }
