package rpc

import (
	"github.com/msgpattern/msgpattern/wire"
)

// The server connection's side of replies: frames go through the
// connection's batchWriter. The reader flushes before it blocks for input;
// a handed-off handler flushes its own reply.

// afterWrite flushes unless the writer is the inline reader, which flushes
// before it next blocks.
func (c *conn) afterWrite(rc *requestContext, big bool) {
	if big || rc == nil || c.busy.Load() != rc {
		c.flush()
	}
}

func (c *conn) writeRaw(f func(dst []byte) []byte) {
	c.out.appendFrame(func(dst []byte) ([]byte, error) { return f(dst), nil })
}

func (c *conn) writeValue(rc *requestContext, v any) (replyMark, error) {
	start, end, gen, big, err := c.out.appendFrame(func(dst []byte) ([]byte, error) {
		return wire.AppendValueOf(dst, c.framing, v, rc.req.ID, false)
	})
	if err != nil && c.out.broken() {
		return replyMark{}, nil // the peer is gone: nothing to report to the handler
	}
	if err != nil {
		return replyMark{}, err
	}
	c.afterWrite(rc, big)
	return replyMark{gen: gen, start: start, end: end}, nil
}

func (c *conn) writeLast(rc *requestContext, v any) error {
	_, _, _, big, err := c.out.appendFrame(func(dst []byte) ([]byte, error) {
		return wire.AppendValueOf(dst, c.framing, v, rc.req.ID, true)
	})
	if err != nil && c.out.broken() {
		return nil
	}
	if err != nil {
		return err
	}
	c.afterWrite(rc, big)
	return nil
}

func (c *conn) writeEnd(rc *requestContext, last replyMark) {
	merged := c.out.rewriteTail(last.gen, last.end, func(dst []byte) []byte {
		return wire.MarkDisposed(dst, c.framing, last.start, rc.req.ID)
	})
	if !merged {
		c.writeRaw(func(dst []byte) []byte { return wire.AppendDisposed(dst, c.framing, rc.req.ID) })
	}
	c.afterWrite(rc, false)
}

func (c *conn) writeError(rc *requestContext, errJSON []byte) {
	_, _, _, big, _ := c.out.appendFrame(func(dst []byte) ([]byte, error) {
		return wire.AppendError(dst, c.framing, errJSON, rc.req.ID), nil
	})
	c.afterWrite(rc, big)
}

// flush writes what is buffered. A write error means the peer is gone: its
// handlers are told, and the reader is woken.
func (c *conn) flush() {
	if err := c.out.flush(); err != nil {
		c.cancel()
		c.nc.Close()
	}
}
