package rpc

import (
	"math"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// memoryBudget is the server-wide cap on what peers can make the server
// hold: frames being received beyond each connection's free allowance
// (recvAllowance), and replies queued for writing. Replies are charged
// unconditionally (the handler has already run); receive buffers must
// reserve before they grow, and a connection that cannot waits (its reading
// paused) until bytes are given back, or is dropped after FrameTimeout.
type memoryBudget struct {
	limit int64
	used  atomic.Int64

	waiters atomic.Int32
	// minNeed is the smallest reservation a waiter waits for (MaxInt64
	// when none): a release wakes the waiters only once that much is
	// free, not at every reply written (hundreds of waiters woken for
	// nothing, each time).
	minNeed atomic.Int64
	mu      sync.Mutex
	needs   map[int64]int // the waiters' reservations, counted; mu is held
	wakes   atomic.Int64  // times the waiters were woken (tests)
	freed   chan struct{} // closed and replaced when bytes come back while someone waits
}

// recvAllowance is what each connection may buffer for incoming frames
// without reserving from the budget. Small frames therefore always get
// through, whatever large ones hold. Chunks grow past it (to maxChunk) for
// speed only from a budget at most half used (see conn.fill).
const recvAllowance = 64 << 10

func newMemoryBudget(limit int64) *memoryBudget {
	b := &memoryBudget{limit: limit, freed: make(chan struct{}), needs: make(map[int64]int)}
	b.minNeed.Store(math.MaxInt64)
	return b
}

// defaultMemoryBudget is half of GOMEMLIMIT when one is set, else 512 MiB:
// room for several maximum-size frames at once, yet safe on a small machine.
func defaultMemoryBudget() int64 {
	if lim := debug.SetMemoryLimit(-1); lim > 0 && lim < math.MaxInt64 {
		return max(lim/2, 64<<20)
	}
	return DefaultMemoryBudget
}

// charge adds n (which may be negative) to what is held, without checking
// the limit.
func (b *memoryBudget) charge(n int64) {
	u := b.used.Add(n)
	if n < 0 && b.waiters.Load() > 0 && b.limit-u >= b.minNeed.Load() {
		b.wake()
	}
}

// over reports whether more than the limit is held (replies are charged
// without checking it).
func (b *memoryBudget) over() bool { return b.used.Load() > b.limit }

// short reports whether the budget is over or a reader waits for it: the
// shedder's condition.
func (b *memoryBudget) short() bool { return b.waiters.Load() > 0 || b.over() }

// addWaiter registers a waiter for n bytes: from then on a release that
// frees n wakes it. removeWaiter undoes it.
func (b *memoryBudget) addWaiter(n int64) {
	b.mu.Lock()
	b.needs[n]++
	if n < b.minNeed.Load() {
		b.minNeed.Store(n)
	}
	b.waiters.Add(1)
	b.mu.Unlock()
}

func (b *memoryBudget) removeWaiter(n int64) {
	b.mu.Lock()
	b.waiters.Add(-1)
	if b.needs[n]--; b.needs[n] == 0 {
		delete(b.needs, n)
		if n == b.minNeed.Load() {
			least := int64(math.MaxInt64)
			for m := range b.needs {
				least = min(least, m)
			}
			b.minNeed.Store(least)
		}
	}
	b.mu.Unlock()
}

// tryReserve takes n bytes if they fit.
func (b *memoryBudget) tryReserve(n int64) bool { return b.tryReserveWithin(n, b.limit) }

// tryReserveSpare takes n bytes only if the budget stays at most half
// used: for growth that merely speeds a connection up, which must not crowd
// out frames that need the budget.
func (b *memoryBudget) tryReserveSpare(n int64) bool { return b.tryReserveWithin(n, b.limit/2) }

// tryReserveWithin takes n bytes if what is used stays within limit.
func (b *memoryBudget) tryReserveWithin(n, limit int64) bool {
	for {
		u := b.used.Load()
		if u+n > limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *memoryBudget) wake() {
	b.wakes.Add(1)
	b.mu.Lock()
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// reserve takes n bytes, waiting while they do not fit. It gives up,
// returning false, when wait passes (never when it is 0) or stop closes.
func (b *memoryBudget) reserve(n int64, wait time.Duration, stop1, stop2 <-chan struct{}) bool {
	if b.tryReserve(n) {
		return true
	}
	b.addWaiter(n)
	defer b.removeWaiter(n)
	var expired <-chan time.Time // never, when wait is 0 (FrameTimeout off)
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		expired = t.C
	}
	for {
		b.mu.Lock()
		ch := b.freed
		b.mu.Unlock()
		// Checked after taking the channel: a release between the two is seen.
		if b.tryReserve(n) {
			return true
		}
		select {
		case <-ch:
		case <-expired:
			return false
		case <-stop1:
			return false
		case <-stop2:
			return false
		}
	}
}

// osMemoryReturner gives memory back to the operating system after a
// connection that held a lot of it has gone, at most once per
// freeOSMemoryEvery (a return that comes too soon is postponed, so the last
// of many such connections is followed by one too): the Go runtime would
// otherwise keep the pages for minutes, and a server should not look as big
// as its worst peer long after that peer left.
type osMemoryReturner struct {
	last    atomic.Int64 // monotime of the last return
	pending atomic.Bool  // a postponed return is scheduled
}

const (
	freeOSMemoryAbove = 8 << 20
	freeOSMemoryEvery = time.Second
)

func (r *osMemoryReturner) after(held int) {
	if held < freeOSMemoryAbove {
		return
	}
	now := monotime()
	last := r.last.Load()
	if wait := last + int64(freeOSMemoryEvery) - now; last != 0 && wait > 0 {
		if r.pending.CompareAndSwap(false, true) {
			time.AfterFunc(time.Duration(wait), func() {
				r.pending.Store(false)
				r.last.Store(monotime())
				debug.FreeOSMemory()
			})
		}
		return
	}
	if r.last.CompareAndSwap(last, now) {
		debug.FreeOSMemory()
	}
}
