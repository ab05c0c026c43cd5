package rpc

import (
	"net"
	"sync"
	"sync/atomic"
)

// batchWriter coalesces the frames of many goroutines into few writes.
// Frames are appended to a buffer under a short lock and written by
// whichever goroutine flushes first: one write carries every frame ready at
// that moment, and a goroutine that finds a flush in progress leaves its
// frame to it. There is no writer goroutine, and no buffer is held while
// nothing waits to be written. Server connections and client connections
// both use it.
type batchWriter struct {
	nc    net.Conn
	bytes *atomic.Uint64 // counts bytes written; may be nil

	mu       sync.Mutex
	buf      *writeBuf // nil while nothing waits to be written
	gen      uint64    // counts buffer swaps, so a mark can tell if its frame left
	flushing bool
	err      error // the first write error; later frames are dropped
}

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
// frame starts and ends, the buffer's generation, and whether the buffer
// has grown past flushThreshold. After a write error it drops the frame and
// returns the error.
func (w *batchWriter) appendFrame(f func(dst []byte) ([]byte, error)) (start, end int, gen uint64, big bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock() // f may encode user values, which may panic
	if w.err != nil {
		return 0, 0, 0, false, w.err
	}
	if w.buf == nil {
		w.buf = getWriteBuf()
	}
	start = len(w.buf.b)
	out, err := f(w.buf.b)
	if err != nil {
		return 0, 0, 0, false, err
	}
	w.buf.b = out
	return start, len(out), w.gen, len(out) > flushThreshold, nil
}

// broken reports whether a write has failed.
func (w *batchWriter) broken() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err != nil
}

// rewriteTail runs f on the buffer when the frame ending at end, appended
// in generation gen, is still its unwritten tail, and reports whether it did.
func (w *batchWriter) rewriteTail(gen uint64, end int, f func(dst []byte) []byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil || w.buf == nil || gen != w.gen || end != len(w.buf.b) || end == 0 {
		return false
	}
	w.buf.b = f(w.buf.b)
	return true
}

// flush writes out the buffer, and whatever is appended meanwhile, unless
// another goroutine is already doing so (it will take ours too). It returns
// the first write error.
func (w *batchWriter) flush() error {
	w.mu.Lock()
	if w.flushing || w.buf == nil || len(w.buf.b) == 0 {
		err := w.err
		w.mu.Unlock()
		return err
	}
	w.flushing = true
	for w.buf != nil && len(w.buf.b) > 0 && w.err == nil {
		buf := w.buf
		w.buf = nil
		w.gen++
		w.mu.Unlock()
		n, err := w.nc.Write(buf.b)
		if w.bytes != nil {
			w.bytes.Add(uint64(n))
		}
		putWriteBuf(buf)
		w.mu.Lock()
		if err != nil {
			w.err = err
		}
	}
	if w.err != nil && w.buf != nil {
		putWriteBuf(w.buf)
		w.buf = nil
	}
	w.flushing = false
	err := w.err
	w.mu.Unlock()
	return err
}
