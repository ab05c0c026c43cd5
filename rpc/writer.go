package rpc

import (
	"sync"

	"github.com/msgpattern/msgpattern/wire"
)

// Replies are appended to the connection's write buffer under a short lock
// and written by whichever goroutine flushes first: one write carries every
// reply ready at that moment. The reader flushes before it blocks for input;
// a handed-off handler flushes its own reply. There is no writer goroutine,
// so an idle connection costs one goroutine, and no buffer is kept while
// nothing is waiting to be written.

// writeBuf is a pooled write buffer; the pointer travels with the slice so
// that returning it to the pool allocates nothing.
type writeBuf struct{ b []byte }

// writeBufs recycles write buffers between bursts.
var writeBufs = sync.Pool{New: func() any { return &writeBuf{b: make([]byte, 0, 4<<10)} }}

// maxPooledWriteBuf keeps one huge reply from pinning its buffer in the pool.
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

// appendLocked runs f on the write buffer under the lock; it returns the
// buffer length before f ran and the generation of the buffer.
func (c *conn) appendLocked(f func(dst []byte) ([]byte, error)) (start int, gen uint64, big bool, err error) {
	c.wmu.Lock()
	defer c.wmu.Unlock() // f encodes user values, which may panic
	if c.werr != nil {
		return 0, 0, false, nil // the connection is broken: drop silently
	}
	if c.wbuf == nil {
		c.wbuf = getWriteBuf()
	}
	start = len(c.wbuf.b)
	out, err := f(c.wbuf.b)
	if err != nil {
		return 0, 0, false, err
	}
	c.wbuf.b = out
	return start, c.wgen, len(out) > flushThreshold, nil
}

// afterWrite flushes unless the writer is the inline reader, which flushes
// before it next blocks.
func (c *conn) afterWrite(rc *requestContext, big bool) {
	if big || rc == nil || c.busy.Load() != rc {
		c.flush()
	}
}

func (c *conn) writeRaw(f func(dst []byte) []byte) {
	c.appendLocked(func(dst []byte) ([]byte, error) { return f(dst), nil })
}

func (c *conn) writeValue(rc *requestContext, v any) (replyMark, error) {
	start, gen, big, err := c.appendLocked(func(dst []byte) ([]byte, error) {
		return wire.AppendValueOf(dst, c.framing, v, rc.req.ID, false)
	})
	if err != nil {
		return replyMark{}, err
	}
	c.wmu.Lock()
	end := len(c.wbuf.b)
	c.wmu.Unlock()
	c.afterWrite(rc, big)
	return replyMark{gen: gen, start: start, end: end}, nil
}

func (c *conn) writeLast(rc *requestContext, v any) error {
	_, _, big, err := c.appendLocked(func(dst []byte) ([]byte, error) {
		return wire.AppendValueOf(dst, c.framing, v, rc.req.ID, true)
	})
	if err != nil {
		return err
	}
	c.afterWrite(rc, big)
	return nil
}

func (c *conn) writeEnd(rc *requestContext, last replyMark) {
	_, _, big, _ := c.appendLocked(func(dst []byte) ([]byte, error) {
		if last.end > 0 && last.gen == c.wgen && last.end == len(dst) {
			return wire.MarkDisposed(dst, c.framing, last.start, rc.req.ID), nil
		}
		return wire.AppendDisposed(dst, c.framing, rc.req.ID), nil
	})
	c.afterWrite(rc, big)
}

func (c *conn) writeError(rc *requestContext, errJSON []byte) {
	_, _, big, _ := c.appendLocked(func(dst []byte) ([]byte, error) {
		return wire.AppendError(dst, c.framing, errJSON, rc.req.ID), nil
	})
	c.afterWrite(rc, big)
}

// flush writes out the buffer, and whatever is appended meanwhile, unless
// another goroutine is already doing so (it will take ours too).
func (c *conn) flush() {
	c.wmu.Lock()
	if c.flushing || c.wbuf == nil || len(c.wbuf.b) == 0 {
		c.wmu.Unlock()
		return
	}
	c.flushing = true
	for c.wbuf != nil && len(c.wbuf.b) > 0 && c.werr == nil {
		buf := c.wbuf
		c.wbuf = nil
		c.wgen++
		c.wmu.Unlock()
		n, err := c.nc.Write(buf.b)
		c.srv.stats.bytesOut.Add(uint64(n))
		putWriteBuf(buf)
		c.wmu.Lock()
		if err != nil {
			c.werr = err
		}
	}
	werr := c.werr
	if werr != nil && c.wbuf != nil {
		putWriteBuf(c.wbuf)
		c.wbuf = nil
	}
	c.flushing = false
	c.wmu.Unlock()
	if werr != nil {
		// The peer is gone: stop its handlers and wake the reader.
		c.cancel()
		c.nc.Close()
	}
}
