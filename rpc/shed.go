package rpc

import (
	"sync/atomic"
	"time"
)

// shedder drops, while the memory budget is short, the connections that
// hold the most memory without taking it: more than readPauseMark of
// replies behind a write that took nothing for overBudgetStall. Replies are
// charged to the budget without waiting (their handlers have run), so
// peers that ask for long replies and read them slowly could otherwise
// hold any multiple of the budget, and keep honest frames waiting for it.
// (appendFrame drops such a connection too when it appends behind the
// stall; the shedder also finds the one whose lone reply stalls, and the
// one that appends nothing more.)
type shedder struct {
	last  atomic.Int64 // monotime of the last sweep
	armed atomic.Bool  // a sweep is scheduled
}

// shed sweeps the connections if the budget is over its limit, someone
// waits for it, or need more bytes would not fit; at most once per
// overBudgetStall, a later call scheduling one instead. While some
// connection holds more than the mark behind a write not yet stalled, or a
// reader waits for the budget, it sweeps again after overBudgetStall.
func (s *Server) shed(need int64) {
	b := s.budget
	if b.waiters.Load() == 0 && b.used.Load()+need <= b.limit {
		return
	}
	now := monotime()
	last := s.shedding.last.Load()
	if now-last < int64(overBudgetStall) || !s.shedding.last.CompareAndSwap(last, now) {
		s.shedLater()
		return
	}
	s.mu.Lock()
	conns := s.connsLocked()
	s.mu.Unlock()
	again := need > 0 || b.waiters.Load() > 0 // a waiter registers after its first sweep
	for _, c := range conns {
		if _, pending := c.out.shed(s.readPauseMark); pending {
			again = true
		}
	}
	if again {
		s.shedLater()
	}
}

// shedLater schedules a sweep after overBudgetStall, unless one is.
func (s *Server) shedLater() {
	if s.shedding.armed.CompareAndSwap(false, true) {
		time.AfterFunc(overBudgetStall, func() {
			s.shedding.armed.Store(false)
			s.shed(0)
		})
	}
}
