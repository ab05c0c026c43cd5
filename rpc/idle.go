package rpc

import (
	"errors"
	"sync"
	"time"
)

// Idle connections. Most of a server's connections are idle most of the
// time, so what an idle connection holds is what a server of many
// connections costs. On a plain TCP (or Unix) socket an idle connection
// holds no read chunk and waits on a goroutine that has not run a handler:
//
//   - The reader reads through the socket's RawConn, so a chunk is taken
//     only once bytes are there; before it waits, it gives its chunk's
//     unused tail to the server's chunkCache (the tail is referenced by no
//     frame, so another connection may read into it).
//   - Handlers run inline on the reader, so its stack grows (to 4 KiB or
//     more), and the runtime shrinks a stack only if a quarter of it is
//     unused counting 800 bytes of guard: never, for a goroutine blocked
//     in a read. So a reader that ran a handler and finds no input does
//     not wait: it hands the role to a new goroutine, whose stack is the
//     runtime's starting size, and exits.
//
// Both cost the connection that waits: a goroutine start, a read that
// finds nothing, a chunk taken afresh and a stack grown again at the next
// request (measured at 1×1: 15–25 µs of a 100 µs round trip). So a
// connection whose requests come close together — one arrived less than
// warmFor after the one before — is warm: its reader waits as it is, with
// its stack and its chunk, and a read deadline warmFor away. A warm
// connection quiet for warmFor goes idle as above. A connection that always
// has input waiting pays for none of this. TLS connections read through
// tls.Conn, which buffers on its own: they keep their chunk and their
// goroutine.

// warmFor is how close together a connection's requests come for it to
// stay warm, and how long a warm connection waits before it goes idle. An
// idle connection (the suite's memory test makes one round trip on each,
// then waits) never turns warm: it takes two requests less than warmFor
// apart.
const warmFor = time.Second

// errGoIdle tells readLoop that the reader found no input after running
// handlers: it moves to a fresh goroutine to wait (see readLoop).
var errGoIdle = errors.New("rpc: reader goes idle")

// readIdle reads with nothing buffered: into a chunk taken only when bytes
// have arrived. It returns errGoIdle, having read nothing, when there are
// none and this goroutine ran a handler.
func (c *conn) readIdle() (int, error) {
	c.rawTry, c.rawN, c.rawErr = c.ranHandler, 0, nil
	if err := c.raw.Read(c.rawRead); err != nil {
		return 0, err
	}
	if c.rawTry && c.rawN == 0 && c.rawErr == nil {
		return 0, errGoIdle
	}
	return c.rawN, c.rawErr
}

// releaseIdleChunk lets go of the read chunk while nothing is buffered,
// giving its unused tail to the server's cache.
func (c *conn) releaseIdleChunk() {
	tail := c.rbuf[c.w:]
	// A tail keeps its whole chunk in memory: only one of a chunk within
	// the free allowance may go on uncharged.
	free := len(c.rbuf) <= recvAllowance
	c.unpinChunk()
	c.rbuf, c.r, c.w = nil, 0, 0
	if c.held > 0 {
		c.reserve(0) // gives back: never waits
	}
	if free {
		c.srv.spare.put(tail)
	}
}

// chunkCache holds a few unused read-chunk tails for readers that wake up
// with input, so that going idle and back does not allocate. It is small
// and bounded: with many idle connections most tails are simply dropped.
type chunkCache struct {
	mu   sync.Mutex
	n    int
	bufs [16][]byte
}

// nextChunkSize is what a reader with nothing buffered needs in one chunk
// for its next frame to arrive in one read (the last frame's size, and an
// eighth), and the size of a new chunk: room for two such frames, so that
// its tail serves the next one. Both stay within recvAllowance, which needs
// no reservation from the memory budget.
func (c *conn) nextChunkSize() (need, size int) {
	need = min(max(minChunk/2, c.lastFrame+c.lastFrame/8), recvAllowance)
	return need, min(max(c.chunk, 2*need), recvAllowance)
}

// get returns a spare chunk of at least need bytes, or a new one of size
// bytes. A frame larger than the chunk costs a second read (and a copy).
func (cc *chunkCache) get(need, size int) []byte {
	cc.mu.Lock()
	for i := cc.n - 1; i >= 0; i-- {
		if b := cc.bufs[i]; len(b) >= need {
			cc.n--
			cc.bufs[i] = cc.bufs[cc.n]
			cc.bufs[cc.n] = nil
			cc.mu.Unlock()
			return b
		}
	}
	cc.mu.Unlock()
	return make([]byte, size)
}

// put keeps b, unless it is too small to be worth a read, larger than a
// connection may hold without reserving budget, or the cache is full.
func (cc *chunkCache) put(b []byte) {
	if len(b) < minChunk/2 || len(b) > recvAllowance {
		return
	}
	cc.mu.Lock()
	if cc.n < len(cc.bufs) {
		cc.bufs[cc.n] = b
		cc.n++
	}
	cc.mu.Unlock()
}
