package rpc

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// flakyConn is a net.Conn whose writes take a random part of what they
// are given, and fail at random: a deadline with or without progress, a
// reset, or after Close.
type flakyConn struct {
	net.Conn
	closed atomic.Bool
	mu     sync.Mutex
	rng    *rand.Rand
}

func (c *flakyConn) Write(b []byte) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	c.mu.Lock()
	r := c.rng.IntN(100)
	n := c.rng.IntN(len(b) + 1)
	c.mu.Unlock()
	if r < 3 {
		time.Sleep(time.Millisecond)
	}
	switch {
	case r < 80:
		return len(b), nil
	case r < 90:
		return n, os.ErrDeadlineExceeded
	case r < 93:
		return 0, os.ErrDeadlineExceeded
	case r < 95:
		return n, errors.New("reset")
	default:
		return n, nil // a short write without error (as a broken Conn might)
	}
}
func (c *flakyConn) Close() error                     { c.closed.Store(true); return nil }
func (c *flakyConn) SetWriteDeadline(time.Time) error { return nil }

// TestBudgetAccountingUnderRandomFailures: whatever fails, and when,
// every byte charged to the budget by a batchWriter comes back exactly
// once: at quiescence the budget holds what the buffer still holds, and
// nothing once the writer failed (and its buffer was dropped).
func TestBudgetAccountingUnderRandomFailures(t *testing.T) {
	for round := range 200 {
		b := newMemoryBudget(int64(1) << (16 + 14*(round%2)))
		nc := &flakyConn{rng: rand.New(rand.NewPCG(uint64(round), 7))}
		var fails atomic.Int32
		w := &batchWriter{nc: nc, budget: b, timeout: time.Second, maxQueued: 256 << 10, overBudgetMark: 64 << 10,
			onFail: func(error) { fails.Add(1) }}
		var wg sync.WaitGroup
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(round), uint64(g)))
				for range 60 {
					size := rng.IntN(40 << 10)
					switch op := rng.IntN(10); {
					case op < 5:
						_, end, gen, err := w.appendFrame(func(dst []byte) ([]byte, error) {
							if rng.IntN(20) == 0 {
								return append(dst, 'x'), errors.New("encode") // f's error: buffer as was
							}
							return append(dst, make([]byte, size)...), nil
						})
						if err == nil && rng.IntN(3) == 0 {
							w.rewriteTail(gen, end, func(dst []byte) []byte { return append(dst, "tail"...) })
						}
					case op < 7:
						w.flush()
					case op < 8:
						ctx, cancel := context.WithCancel(context.Background())
						d := time.Duration(rng.IntN(200)) * time.Microsecond
						go func() { time.Sleep(d); cancel() }()
						w.flushFor(ctx, 0, nil)
						cancel()
					case op < 9:
						w.shed(rng.IntN(64 << 10))
					default:
						done := make(chan struct{})
						go func() { time.Sleep(time.Millisecond); close(done) }()
						w.drainTo(rng.IntN(32<<10), done, nil)
					}
				}
			}()
		}
		wg.Wait()
		if !w.broken() {
			if err := w.flush(); err != nil && !w.broken() {
				t.Fatalf("round %d: flush: %v", round, err)
			}
		}
		w.mu.Lock()
		inBuf := 0
		if w.buf != nil {
			inBuf = len(w.buf.b)
		}
		broken, flushing := w.err != nil, w.flushing
		w.mu.Unlock()
		if flushing {
			t.Fatalf("round %d: still flushing", round)
		}
		if used, q := b.used.Load(), w.queued.Load(); used != int64(inBuf) || q != int64(inBuf) {
			t.Fatalf("round %d (broken %v): budget holds %d, queued %d, buffer %d: want all equal", round, broken, used, q, inBuf)
		}
		if broken && inBuf != 0 {
			t.Fatalf("round %d: a failed writer keeps a %d-byte buffer", round, inBuf)
		}
	}
}
