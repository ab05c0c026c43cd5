package rpc

import (
	"sync"
	"sync/atomic"
	"time"
)

// The hand-off monitor. Each connection's reader runs handlers inline and
// records in conn.busy which one is running. The monitor looks at every
// connection once per tick; a handler seen running on two consecutive ticks
// has run for at least one tick, and the monitor hands the reader role to
// a new goroutine so the connection's other requests are not held up. The
// old goroutine finishes its handler, writes its reply and exits. The Go
// runtime's sysmon does the same for a thread blocked in a system call.
// Fast handlers cost two atomic operations and no goroutine.

// handoffTick is both the polling period and the least time a handler runs
// before it is moved off the reader.
const handoffTick = 500 * time.Microsecond

// parkAfter idle ticks, the monitor sleeps until a handler starts.
const parkAfter = 20

// watchEvery ticks (100 ms), the monitor checks whether the peer of a
// connection whose hand-off it holds back has gone. Nothing else watches
// that socket: its reader is running the handler.
const watchEvery = 200

type monitor struct {
	srv      *Server
	arm      []*requestContext // scan's list of timers to start, reused
	all      []*conn           // scan's list of connections when some are closing, reused
	flushes  []*conn           // scan's list of connections whose hand-off it just put off, reused
	watch    []*conn           // scan's list of connections to check for a departed peer, reused
	ticks    uint              // scans so far
	stopOnce sync.Once
	parked   atomic.Bool
	wake     chan struct{}
	stop     chan struct{}
	done     chan struct{}
}

func newMonitor(s *Server) *monitor {
	return &monitor{srv: s, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// notify wakes a parked monitor. The reader calls it after publishing
// busy; the monitor re-scans after publishing parked, so one of the two
// always sees the other.
func (m *monitor) notify() {
	if m.parked.Load() && m.parked.CompareAndSwap(true, false) {
		select {
		case m.wake <- struct{}{}:
		default:
		}
	}
}

func (m *monitor) run() {
	defer close(m.done)
	t := time.NewTicker(handoffTick)
	defer t.Stop()
	idle := 0
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		if m.scan() {
			idle = 0
			continue
		}
		if idle++; idle < parkAfter {
			continue
		}
		m.parked.Store(true)
		if m.scan() {
			m.parked.Store(false)
			idle = 0
			continue
		}
		t.Stop()
		select {
		case <-m.stop:
			return
		case <-m.wake:
		}
		idle = 0
		t.Reset(handoffTick)
	}
}

// scan hands off long-running handlers; it reports whether any handler was
// running. At MaxHandlers handed-off handlers the hand-off waits: the
// handler keeps its connection's reader, so that connection is not read
// (backpressure) until a slot frees, and it is handed off then. Either way
// its timeout timer starts, so the caller is answered at the deadline.
// Timers start after s.mu is released: scan never waits on a request's
// lock while holding the server's.
func (m *monitor) scan() (busy bool) {
	s := m.srv
	arm, flushes, watch := m.arm[:0], m.flushes[:0], m.watch[:0]
	m.ticks++
	watching := m.ticks%watchEvery == 0
	s.mu.Lock()
	conns := s.connList
	if len(s.closingSet) > 0 {
		// A closing connection may still run a request it read last
		// (eviction): it too must be answered at its deadline.
		conns = m.all[:0]
		conns = append(conns, s.connList...)
		for c := range s.closingSet {
			conns = append(conns, c)
		}
		m.all = conns
	}
	for _, c := range conns {
		rc := c.busy.Load()
		if rc == nil {
			c.seen, c.deferred = nil, nil
			continue
		}
		busy = true
		if rc != c.seen {
			c.seen = rc
			continue
		}
		if s.handedOffRunning.Load() >= s.cfg.maxHandlers() {
			if c.deferred != rc {
				c.deferred = rc
				s.stats.handoffsDeferred.Add(1)
				rc.overran.Store(true)
				flushes = append(flushes, c)
			} else if watching {
				watch = append(watch, c)
			}
			arm = append(arm, rc) // seen stays: tried again next tick
			continue
		}
		wasDeferred := c.deferred == rc
		c.seen, c.deferred = nil, nil
		if c.busy.CompareAndSwap(rc, nil) {
			s.handedOffRunning.Add(1)
			s.stats.handedOff.Add(1)
			if wasDeferred {
				go c.resumeReading()
			} else {
				go c.readLoop()
			}
			arm = append(arm, rc)
		}
	}
	s.mu.Unlock()
	clear(m.all)
	for i, rc := range arm {
		rc.armTimeout()
		arm[i] = nil
	}
	m.arm = arm[:0]
	// What the held-back handler sent before its frames went out as they
	// come: written by a goroutine, as a write may block on the peer.
	for _, c := range flushes {
		if c.out.queuedBytes() > 0 {
			go c.flush()
		}
	}
	// Its peer gone, the handler's context is cancelled, as when the
	// reader sees the end of the stream.
	for _, c := range watch {
		if peerGone(c.nc) {
			c.cancel()
		}
	}
	clear(flushes)
	clear(watch)
	m.flushes, m.watch = flushes[:0], watch[:0]
	return busy
}

// shutdown stops the monitor and waits for it; it may be called again.
func (m *monitor) shutdown() {
	m.stopOnce.Do(func() { close(m.stop) })
	<-m.done
}
