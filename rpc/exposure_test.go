package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// The exposure tests attack a server as a slow or hostile peer would, each
// with an honest client on the same server asserting it is still served
// within a bound. Limits are configured small so that the tests are quick
// on two cores under -race; the closing note of the "safe to expose" work
// reports the same cases at full scale with default settings.

// honestWithin bounds an honest client's call while an attack runs. Normal
// is milliseconds; the bound is loose for slow machines, and far below the
// seconds a frozen server takes.
const honestWithin = 2 * time.Second

// echoFrame is a request for "echo" carrying a string of n bytes.
func echoFrame(n int, id string) []byte {
	return []byte(reqFrame(`"echo"`, strconv.Quote(strings.Repeat("x", n)), id))
}

// TestExposeNonReadingPeerDoesNotFreeze: a peer that sends large requests
// and never reads stalls only itself. New clients are served, hand-offs
// keep working on other connections, and the peer is dropped as a slow
// consumer after WriteTimeout without progress.
func TestExposeNonReadingPeerDoesNotFreeze(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	s, _ := startServer(t, rpc.Config{WriteTimeout: time.Second}, func(s *rpc.Server) { registerExposure(s, release) })
	attacker := rawDial(t, s, 4096)
	stop := pump(attacker, echoFrame(64<<10, `"a"`), 150)
	defer stop()

	other := dial(t, s)
	for i := range 10 {
		time.Sleep(50 * time.Millisecond)
		honestProbe(t, s, fmt.Sprint(i), honestWithin)
		// A blocked request and a fast one pipelined on another connection:
		// the fast reply comes first (the blocked one is handed off), and
		// the blocked one is released only then: no race with a timer.
		other.write(reqFrame(`"block"`, `null`, `"s"`) + reqFrame(`"sum"`, `[1]`, `"f"`))
		other.expectFrame(valueReply(`1`, `"f"`))
		release <- struct{}{}
		other.expectFrame(valueReply(`"released"`, `"s"`))
	}
	if !eventually(10*time.Second, func() bool { return limits(s).SlowConsumers == 1 }) {
		t.Fatalf("non-reading peer not dropped as a slow consumer: %+v", limits(s))
	}
	waitMetric(t, s, "active_connections", 1, func(m rpc.Metrics) int64 { return m.ActiveConnections }) // other
	honestProbe(t, s, "after", honestWithin)
}

// TestExposeNonReaderGetsNoNewWork: above the read-pause mark the server
// stops reading a connection whose peer does not read its replies, so the
// peer cannot make it run (and buffer) more work.
func TestExposeNonReaderGetsNoNewWork(t *testing.T) {
	t.Parallel()
	const reqs = 2000 // 128 MiB of echoes offered
	s, _ := startServer(t, rpc.Config{MaxQueuedReplyBytes: 1 << 20, WriteTimeout: 2 * time.Second},
		func(s *rpc.Server) { registerExposure(s, nil) })
	attacker := rawDial(t, s, 4096)
	stop := pump(attacker, echoFrame(64<<10, `"a"`), reqs)
	time.Sleep(time.Second)
	m := s.GetMetrics()
	// What ran is what fits in the kernel's socket buffers (a few MiB on
	// loopback) plus the read-pause mark: a few hundred at most.
	if m.Requests > 400 || m.BytesIn > 32<<20 {
		t.Errorf("server ran %d requests and read %d bytes for a peer that reads nothing", m.Requests, m.BytesIn)
	}
	t.Logf("while the peer did not read: %d requests run, %d bytes read, %d bytes written; read pauses %d",
		m.Requests, m.BytesIn, m.BytesOut, m.Limits.ReadPauses)
	honestProbe(t, s, "during", honestWithin)
	if !eventually(10*time.Second, func() bool { return limits(s).SlowConsumers == 1 }) {
		t.Fatalf("not dropped after WriteTimeout without progress: %+v", limits(s))
	}
	stop()
	if held := limits(s).MemoryHeldBytes; !eventually(ioTimeout, func() bool { return limits(s).MemoryHeldBytes == 0 }) {
		t.Errorf("memory held after the peer was dropped: %d", held)
	}
}

// TestExposeStreamsToANonReader: handlers that stream to a peer that does
// not read are held by Send once the read-pause mark (MaxQueuedReplyBytes/2)
// is queued, so what the server holds for the peer stays about that, and
// the peer is dropped once a write made no progress for WriteTimeout
// (Send then returns ErrCallerGone). Before streams had backpressure, the
// peer was dropped at MaxQueuedReplyBytes — a peer that reads, slower than
// the handler, too.
func TestExposeStreamsToANonReader(t *testing.T) {
	t.Parallel()
	const capBytes = 256 << 10
	s, _ := startServer(t, rpc.Config{MaxQueuedReplyBytes: capBytes, WriteTimeout: 2 * time.Second},
		func(s *rpc.Server) { registerExposure(s, nil) })
	attacker := rawDial(t, s, 4096)
	// Two floods: while one handler blocks writing to the socket, the other
	// keeps queueing (a lone handler is throttled by its own blocked write).
	attacker.Write([]byte(reqFrame(`"flood"`, `[2000,65536]`, `"f1"`) + reqFrame(`"flood"`, `[2000,65536]`, `"f2"`)))
	start := time.Now()
	time.Sleep(500 * time.Millisecond)
	// The mark, a value past it from each flood, and the write in progress.
	if held := limits(s).MemoryHeldBytes; held > capBytes/2+4*(64<<10) {
		t.Errorf("held %d bytes for a peer that does not read; want about the read-pause mark (%d)", held, capBytes/2)
	}
	if !eventually(15*time.Second, func() bool { return limits(s).SlowConsumers == 1 }) {
		t.Fatalf("peer that does not read not dropped after WriteTimeout: %+v", limits(s))
	}
	t.Logf("dropped %v after the request (WriteTimeout 2s)", time.Since(start))
	// Closed on the server's side. (The attacker may not see the close for a
	// while: with a tiny receive window, loopback's persist timer is slow.)
	waitMetric(t, s, "active_connections", 0, func(m rpc.Metrics) int64 { return m.ActiveConnections })
	honestProbe(t, s, "after", honestWithin)
	if !eventually(ioTimeout, func() bool { return limits(s).MemoryHeldBytes == 0 }) {
		t.Errorf("queued replies still held: %d", limits(s).MemoryHeldBytes)
	}
}

// TestExposeQueuedReplyCapAllowsOneLargeReply: a reply larger than the
// cap still goes out when nothing else is queued, to a peer that reads.
func TestExposeQueuedReplyCapAllowsOneLargeReply(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t, rpc.Config{MaxQueuedReplyBytes: 64 << 10}, func(s *rpc.Server) { registerExposure(s, nil) })
	c := dial(t, s)
	body := strconv.Quote(strings.Repeat("y", 1<<20))
	c.call(`"echo"`, body, `"big"`, valueReply(body, `"big"`))
	if n := limits(s).SlowConsumers; n != 0 {
		t.Errorf("slow_consumer = %d for a peer that reads", n)
	}
}

// TestExposeUnfinishedLargeFrames: many peers sending large frames they
// never finish hold no more than the memory budget, and peers with small
// frames are served meanwhile. Once the peers are dropped (silent
// mid-frame, or waiting for the budget for FrameTimeout) the memory is
// given back.
func TestExposeUnfinishedLargeFrames(t *testing.T) {
	t.Parallel()
	const budget = 2 << 20
	s, _ := startServer(t, rpc.Config{MemoryBudget: budget, FrameTimeout: time.Second},
		func(s *rpc.Server) { registerExposure(s, nil) })
	head := []byte(`16000000#{"pattern":"echo","data":"`)
	chunk := []byte(strings.Repeat("a", 64<<10))
	var stops []func() int
	for range 8 {
		nc := rawDial(t, s, 0)
		nc.Write(head)
		stops = append(stops, pump(nc, chunk, 16)) // 1 MiB each, then silence
	}
	var peak int64
	end := time.Now().Add(700 * time.Millisecond)
	for time.Now().Before(end) {
		peak = max(peak, limits(s).MemoryHeldBytes)
		time.Sleep(2 * time.Millisecond)
	}
	honestProbe(t, s, "during", honestWithin)
	if peak > budget {
		t.Errorf("memory held peaked at %d, budget %d", peak, budget)
	}
	if limits(s).BudgetPauses == 0 {
		t.Errorf("no connection waited for the budget: %+v", limits(s))
	}
	for _, stop := range stops {
		stop()
	}
	if !eventually(10*time.Second, func() bool {
		l := limits(s)
		return l.StalledFrames+l.OverBudget == 8 && l.MemoryHeldBytes == 0
	}) {
		t.Fatalf("unfinished frames not all dropped and released: %+v", limits(s))
	}
	t.Logf("peak held %d of %d; %+v", peak, budget, limits(s))
	honestProbe(t, s, "after", honestWithin)
}

// TestExposeFrameNotReservedFromLength: a frame is buffered as it arrives,
// never reserved from the length it announces.
func TestExposeFrameNotReservedFromLength(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) { registerExposure(s, nil) })
	nc := rawDial(t, s, 0)
	nc.Write([]byte(`16000000#{"pattern":"echo","data":"` + strings.Repeat("a", 200<<10)))
	time.Sleep(100 * time.Millisecond)
	if held := limits(s).MemoryHeldBytes; held > 512<<10 {
		t.Errorf("a 16M-unit frame with 200 KiB sent holds %d bytes of budget", held)
	}
	honestProbe(t, s, "during", honestWithin)
}

// TestExposeMultiByteFrameCost: receiving one N-byte frame of 3-byte
// characters allocates a small multiple of N, not one per growth step of a
// buffer sized in UTF-16 units. Not parallel: it counts the process's
// allocations.
func TestExposeMultiByteFrameCost(t *testing.T) {
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) { registerExposure(s, nil) })
	text := strings.Repeat("€", 2<<20) // 6 MiB of UTF-8, 2 Mi units
	body := reqBody(`"len"`, `"`+text+`"`, `"mb"`)
	frame := []byte(frameUnits(nestUnits(body), body))
	c := dial(t, s)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := c.nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	c.expectFrame(valueReply(strconv.Itoa(len(text)+2), `"mb"`))
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	n := uint64(len(frame))
	t.Logf("frame of %d bytes: the server allocated about %d bytes (%.2f×)", n, alloc, float64(alloc)/float64(n))
	if alloc > 4*n {
		t.Errorf("receiving a %d-byte frame allocated %d bytes (%.1f×), want at most 4×", n, alloc, float64(alloc)/float64(n))
	}
}

// TestExposeIdleEviction: at MaxConnections, a new client is admitted by
// evicting the connection idle the longest, never one with a request
// running, and only once it has been idle for EvictIdleAfter.
func TestExposeIdleEviction(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	s, _ := startServer(t, rpc.Config{MaxConnections: 4, EvictIdleAfter: time.Second},
		func(s *rpc.Server) { registerExposure(s, release) })
	var idle []*client
	for i := range 4 {
		c := dial(t, s)
		if i == 1 {
			c.write(reqFrame(`"block"`, `null`, `"b"`)) // busy: never evicted
		} else {
			id := strconv.Quote(fmt.Sprint(i))
			c.call(`"sum"`, `[1]`, id, valueReply(`1`, id))
		}
		idle = append(idle, c)
		time.Sleep(20 * time.Millisecond) // distinct idle ages: 0 oldest
	}
	// Too soon: nothing has been idle for EvictIdleAfter.
	refused := rawDial(t, s, 0)
	if !waitPeerClosed(refused, closeTimeout) {
		t.Fatal("a connection past MaxConnections was not refused")
	}
	waitMetric(t, s, "rejected_connections", 1, func(m rpc.Metrics) uint64 { return m.RejectedConnections })

	time.Sleep(1100 * time.Millisecond)
	// Three are evictable, oldest first: 0, 2, 3. The busy one (1) is not.
	// The new clients stay connected, so each one needs a slot.
	for _, victim := range []int{0, 2, 3} {
		c := dial(t, s)
		id := strconv.Quote(fmt.Sprint("new", victim))
		c.call(`"sum"`, `[1]`, id, valueReply(`1`, id))
		if !waitPeerClosed(idle[victim].nc, closeTimeout) {
			t.Fatalf("connection %d (idle longest) was not evicted", victim)
		}
	}
	if n := limits(s).EvictedIdle; n != 3 {
		t.Errorf("evicted_idle = %d, want 3", n)
	}
	// Now only the busy connection and fresh ones remain: refused again.
	if !waitPeerClosed(rawDial(t, s, 0), closeTimeout) {
		t.Fatal("a new connection was admitted with no idle one to evict")
	}
	release <- struct{}{}
	idle[1].expectFrame(valueReply(`"released"`, `"b"`))
}

// TestExposeLingeringNotCounted: connections in their lingering close (the
// server closed them and waits for the peer to finish) do not hold
// MaxConnections.
func TestExposeLingeringNotCounted(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t, rpc.Config{MaxConnections: 4}, func(s *rpc.Server) { registerExposure(s, nil) })
	for i := range 8 {
		// A framing error: the server half-closes and lingers (half a
		// second) for a peer that neither sends nor closes.
		c := dial(t, s)
		c.write("x")
		// Accepted (a dial returns before the server accepts), then
		// unlisted: otherwise the next dials could overlap this one.
		if !eventually(ioTimeout, func() bool {
			m := s.GetMetrics()
			return m.TotalConnections == uint64(i+1) && m.ActiveConnections == 0
		}) {
			t.Fatalf("connection with a framing error still counted: %+v", s.GetMetrics())
		}
	}
	if l := limits(s); l.ClosingConnections < 4 {
		t.Fatalf("closing connections: %d, want the 8 lingering (some may have ended)", l.ClosingConnections)
	}
	honestProbe(t, s, "while they linger", honestWithin)
	if m := s.GetMetrics(); m.RejectedConnections != 0 {
		t.Errorf("rejected %d: lingering connections counted against MaxConnections", m.RejectedConnections)
	}
}

// TestExposeHandlerCap: handlers that run long take at most MaxHandlers
// goroutines beyond one reader per connection; at the cap their
// connections stop being read, others are served, and every request is
// answered once handlers finish.
func TestExposeHandlerCap(t *testing.T) {
	t.Parallel()
	const maxHandlers, conns, perConn = 4, 3, 10
	release := make(chan struct{})
	s, _ := startServer(t, rpc.Config{MaxHandlers: maxHandlers}, func(s *rpc.Server) { registerExposure(s, release) })
	base := runtime.NumGoroutine()
	var cs []*client
	for i := range conns {
		c := dial(t, s)
		var b strings.Builder
		for j := range perConn {
			b.WriteString(reqFrame(`"block"`, `null`, strconv.Quote(fmt.Sprint(i, "-", j))))
		}
		c.write(b.String())
		cs = append(cs, c)
	}
	if !eventually(ioTimeout, func() bool { return limits(s).HandoffsDeferred > 0 }) {
		t.Fatalf("no hand-off deferred at the cap: %+v", limits(s))
	}
	time.Sleep(50 * time.Millisecond)
	l := limits(s)
	if l.HandedOffRunning > maxHandlers {
		t.Errorf("%d handlers handed off, MaxHandlers %d", l.HandedOffRunning, maxHandlers)
	}
	if m := s.GetMetrics(); m.InFlight > maxHandlers+conns {
		t.Errorf("%d handlers running, want at most MaxHandlers+connections = %d", m.InFlight, maxHandlers+conns)
	}
	// Goroutines: readers and handed-off handlers, not one per request.
	if g := runtime.NumGoroutine() - base; g > maxHandlers+conns+8 {
		t.Errorf("%d more goroutines with %d requests waiting", g, conns*perConn)
	}
	honestProbe(t, s, "at the cap", honestWithin)
	close(release)
	for i, c := range cs {
		got := map[string]bool{}
		for range perConn {
			got[c.readFrame()] = true
		}
		for j := range perConn {
			id := strconv.Quote(fmt.Sprint(i, "-", j))
			if !got[valueReply(`"released"`, id)] {
				t.Errorf("connection %d: no reply for %s", i, id)
			}
		}
	}
}

// TestExposeHandlerCapTimeoutAnswered: at MaxHandlers a long handler
// stays on its connection's reader; its caller still gets the timeout
// reply at the deadline. The reply used to be queued for that reader,
// which was the goroutine stuck in the handler, so it left only when the
// handler returned.
func TestExposeHandlerCapTimeoutAnswered(t *testing.T) {
	t.Parallel()
	const handlerTime = 3 * time.Second
	s, _ := startServer(t, rpc.Config{MaxHandlers: 1, Timeout: 100 * time.Millisecond}, func(s *rpc.Server) {
		s.Handle("stubborn", rpc.Func(func(json.RawMessage) (any, error) {
			time.Sleep(handlerTime) // ignores its context
			return "too late", nil
		}))
	})
	a := dial(t, s)
	a.write(reqFrame(`"stubborn"`, "null", "1")) // handed off: takes the one slot
	if !eventually(ioTimeout, func() bool { return limits(s).HandedOffRunning == 1 }) {
		t.Fatalf("the first handler was not handed off: %+v", limits(s))
	}
	b := dial(t, s)
	begin := time.Now()
	b.write(reqFrame(`"stubborn"`, "null", "2")) // at the cap: stays on b's reader
	b.expectFrame(errReply(timeoutReply100ms, "2"))
	if waited := time.Since(begin); waited > handlerTime/2 {
		t.Errorf("the timeout reply came after %v; want it near the 100ms deadline, not when the handler returns (%v)", waited, handlerTime)
	}
	if l := limits(s); l.HandoffsDeferred == 0 {
		t.Errorf("no hand-off deferred: the test did not reach the cap (%+v)", l)
	}
	a.expectFrame(errReply(timeoutReply100ms, "1"))
}

// TestExposeHandlerCapNestedCall: a handler calling its own server
// through a client does not deadlock at the cap: the cap pauses reading,
// it never blocks a running handler.
func TestExposeHandlerCapNestedCall(t *testing.T) {
	t.Parallel()
	var inner *rpc.Client
	s, _ := startServer(t, rpc.Config{MaxHandlers: 1}, func(s *rpc.Server) {
		registerExposure(s, nil)
		s.Handle("outer", rpc.Typed(func(ctx context.Context, in []float64) (float64, error) {
			time.Sleep(2 * time.Millisecond) // long enough to be handed off
			var sum float64
			err := inner.Send(ctx, "sum", in, &sum)
			return sum + 1, err
		}))
	})
	var err error
	inner, err = rpc.NewClient(s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	outer, err := rpc.NewClient(s.Addr().String(), rpc.WithPool(2, false))
	if err != nil {
		t.Fatal(err)
	}
	defer outer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got float64
			if err := outer.Send(ctx, "outer", []float64{float64(i), 1}, &got); err != nil || got != float64(i)+2 {
				failed.Add(1)
				t.Errorf("outer(%d) = %v, %v", i, got, err)
			}
		}()
	}
	wg.Wait()
	if failed.Load() == 0 {
		t.Logf("16 nested calls with MaxHandlers 1: %+v", limits(s))
	}
}

// TestExposeFrameTimeoutProgress: FrameTimeout is silence mid-frame, as
// NestJS 12's incompleteMessageTimeout: a large frame arriving slowly but
// steadily is served although it takes several FrameTimeouts; a peer that
// goes silent mid-frame, and one that trickles below MinFrameRate, are
// dropped.
func TestExposeFrameTimeoutProgress(t *testing.T) {
	t.Parallel()
	const frameTimeout = 300 * time.Millisecond
	cfg := rpc.Config{FrameTimeout: frameTimeout, MinFrameRate: 500}

	t.Run("progressing", func(t *testing.T) {
		t.Parallel()
		// 1s, not 300ms: the writer below may be descheduled for a few
		// hundred ms on a loaded machine; the frame still outlasts it.
		s, _ := startServer(t, rpc.Config{FrameTimeout: time.Second, MinFrameRate: 500}, func(s *rpc.Server) { registerExposure(s, nil) })
		data := strings.Repeat("p", 256<<10)
		frame := []byte(reqFrame(`"len"`, `"`+data+`"`, `"p"`))
		c := dial(t, s)
		start := time.Now()
		for off := 0; off < len(frame); off += 8 << 10 { // 8 KiB every 80ms: ~2.6s
			c.nc.Write(frame[off:min(off+8<<10, len(frame))])
			time.Sleep(80 * time.Millisecond)
		}
		c.expectFrame(valueReply(strconv.Itoa(len(data)+2), `"p"`))
		t.Logf("frame took %v with FrameTimeout %v", time.Since(start), frameTimeout)
		if l := limits(s); l.StalledFrames+l.SlowFrames != 0 {
			t.Errorf("progressing frame counted as dropped: %+v", l)
		}
	})
	t.Run("silent mid-frame", func(t *testing.T) {
		t.Parallel()
		s, _ := startServer(t, cfg, func(s *rpc.Server) { registerExposure(s, nil) })
		c := dial(t, s)
		c.write(`100#{"pattern":"len","data":"`)
		start := time.Now()
		c.expectClosed()
		t.Logf("silent peer dropped after %v", time.Since(start))
		waitMetric(t, s, "limits.stalled_frames", 1, func(m rpc.Metrics) uint64 { return m.Limits.StalledFrames })
	})
	// A byte every 100ms: never silent for FrameTimeout, 10 B/s. Before
	// the trickle, a burst of the frame's first bytes: averaged over the
	// frame's life, 100 KiB sent at once bought 205 s of trickling at
	// 10 B/s (8 MiB: 4.6 h at a byte every 29 s with the defaults), the
	// frame's chunk and its share of MemoryBudget held all along. Bytes
	// ahead of the rate earn at most FrameTimeout of credit.
	for _, tt := range []struct {
		name        string
		data, burst int
	}{
		{"trickle", 1000, 0},
		{"burst, then trickle", 1 << 20, 100 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := startServer(t, cfg, func(s *rpc.Server) { registerExposure(s, nil) })
			c := dial(t, s)
			frame := reqFrame(`"len"`, `"`+strings.Repeat("t", tt.data)+`"`, `"t"`)
			if tt.burst > 0 {
				c.write(frame[:tt.burst])
				c.nc.SetWriteDeadline(time.Time{})
			}
			start := time.Now()
			var closed bool
			for i := tt.burst; i < len(frame) && time.Since(start) < 10*time.Second; i++ {
				if _, err := c.nc.Write([]byte{frame[i]}); err != nil {
					closed = true
					break
				}
				time.Sleep(100 * time.Millisecond)
				if limits(s).SlowFrames == 1 {
					closed = true
					break
				}
			}
			if !closed {
				t.Fatalf("peer trickling at 10 B/s after a burst of %d bytes not dropped after %v (FrameTimeout %v, MinFrameRate 500 B/s): %+v",
					tt.burst, time.Since(start), frameTimeout, limits(s))
			}
			c.expectClosed()
			t.Logf("trickle dropped after %v", time.Since(start))
			honestProbe(t, s, "after", honestWithin)
		})
	}
}

// TestExposeShutdownWithNonReadingPeer: Shutdown returns by its context's
// deadline however peers behave, and Close at once.
func TestExposeShutdownWithNonReadingPeer(t *testing.T) {
	t.Parallel()
	for _, useClose := range []bool{false, true} {
		name := "Shutdown"
		if useClose {
			name = "Close"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			defer close(release)
			s, stop := startServer(t, rpc.Config{WriteTimeout: time.Minute}, func(s *rpc.Server) { registerExposure(s, release) })
			attacker := rawDial(t, s, 4096)
			stopPump := pump(attacker, echoFrame(64<<10, `"a"`), 200)
			defer stopPump()
			stalled := rawDial(t, s, 0)
			stalled.Write([]byte(`100#{"pattern":`)) // mid-frame
			busy := dial(t, s)
			busy.write(reqFrame(`"block"`, `null`, `"b"`))
			time.Sleep(300 * time.Millisecond)

			start := time.Now()
			if useClose {
				s.Close()
			} else {
				ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
				err := s.Shutdown(ctx)
				cancel()
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Shutdown = %v, want DeadlineExceeded (a handler was still running)", err)
				}
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("%s took %v", name, d)
			}
			stop()
		})
	}
}

// TestClientWriteBoundedByContext: against a server that accepts and never
// reads, a call returns when its context ends, the stuck connection is
// failed, and the write timeout bounds a call without a deadline.
func TestClientWriteBoundedByContext(t *testing.T) {
	t.Parallel()
	ln := listenNeverRead(t)
	big := strings.Repeat("b", 32<<20)

	c, err := rpc.NewClient(ln.Addr().String(), rpc.WithWriteTimeout(2*time.Second), rpc.WithHeartbeat(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	encode := encodeCost(t, big)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	start := time.Now()
	err = c.Send(ctx, "echo", big, nil)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("call with a 300ms deadline: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second+3*encode {
		t.Errorf("call with a 300ms deadline returned after %v (encoding its data takes %v)", d, encode)
	}
	// Its request, over 64 KiB, goes on being written by the connection's
	// writer goroutine, which gives up at the write timeout (2 s) after the
	// kernel's buffers took their fill: on a loaded machine, under -race,
	// copying 32 MiB into them may take seconds.
	waitForUpTo(t, 30*time.Second, "the abandoned write given up (stuck_connections 1)", func() bool { return c.Metrics().StuckConnections == 1 })
	start = time.Now()
	err = c.Send(context.Background(), "echo", big, nil)
	if !errors.Is(err, rpc.ErrConnectionLost) {
		t.Errorf("call without deadline: %v, want ErrConnectionLost (write timeout)", err)
	}
	// The timeout counts from the last progress: filling the kernel's
	// buffers may take a while on a loaded machine.
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("call without deadline returned after %v (write timeout 400ms)", d)
	}
	if m := c.Metrics(); m.StuckConnections != 2 {
		t.Errorf("stuck_connections = %d, want 2", m.StuckConnections)
	}
}

// TestClientConcurrentWritesBounded: with many calls in flight the
// connection's writer goroutine writes their requests; against a server
// that never reads, every call still returns at its own deadline, the
// writer gives up at the write timeout (the connection counted stuck), and
// later calls get a fresh connection. No goroutine outlives Close (the
// package's goleak check).
func TestClientConcurrentWritesBounded(t *testing.T) {
	t.Parallel()
	ln := listenNeverRead(t)
	c, err := rpc.NewClient(ln.Addr().String(), rpc.WithPool(1, false), rpc.WithWriteTimeout(400*time.Millisecond), rpc.WithHeartbeat(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	big := strings.Repeat("b", 1<<20)
	encode := encodeCost(t, big)
	var wg sync.WaitGroup
	start := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if err := c.Send(ctx, "echo", big, nil); !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, rpc.ErrConnectionLost) {
				t.Errorf("call with a 300ms deadline: %v", err)
			}
		}()
	}
	wg.Wait()
	if d := time.Since(start); d > 10*time.Second+16*encode { // serialized behind the write timeout: over 30s
		t.Errorf("16 concurrent calls with 300ms deadlines returned after %v (encoding one's data takes %v)", d, encode)
	}
	// The stuck writer fails the connection at its write timeout.
	deadline := time.Now().Add(30 * time.Second)
	for c.Metrics().StuckConnections == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled connection was never given up")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestExposeServerPauseKeepsHealthyPeer: a pause of the server's making
// (MaxInFlight reached) longer than HeartbeatTimeout does not drop a peer
// that sends heartbeats, on either side.
func TestExposeServerPauseKeepsHealthyPeer(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	// Pings 50 ms apart against a 1 s HeartbeatTimeout (20 intervals), and
	// a pause of 1.5 s: with 100 ms/300 ms a loaded machine could hold the
	// test's goroutine past the timeout between the server's last read and
	// the end of the test, and count a heartbeat failure of its own.
	const hbInterval, hbTimeout, pings = 50 * time.Millisecond, time.Second, 30
	s, _ := startServer(t, rpc.Config{MaxInFlight: 1, HeartbeatTimeout: hbTimeout, HeartbeatInterval: hbInterval},
		func(s *rpc.Server) { registerExposure(s, release) })
	c := dial(t, s)
	c.call(`"msgpattern:heartbeat"`, `null`, `"hb0"`, valueReply(`"pong"`, `"hb0"`))
	c.write(reqFrame(`"block"`, `null`, `"b"`) + reqFrame(`"sum"`, `[2]`, `"after"`))
	for i := range pings { // pings the paused server does not read yet: 1.5 s, past HeartbeatTimeout
		time.Sleep(hbInterval)
		c.write(reqFrame(`"msgpattern:heartbeat"`, `null`, strconv.Quote(fmt.Sprint("hb", i+1))))
	}
	close(release)
	c.expectFrame(valueReply(`"released"`, `"b"`))
	c.expectFrame(valueReply(`2`, `"after"`))
	for i := range pings {
		id := strconv.Quote(fmt.Sprint("hb", i+1))
		c.expectFrame(valueReply(`"pong"`, id))
	}
	if n := s.GetMetrics().Heartbeats.Failed; n != 0 {
		t.Errorf("heartbeat failures = %d", n)
	}
}

// TestExposeServerPauseKeepsWaitingPeer: a peer that pinged once and waits
// for the answer (as rpc.Client does: one ping out at a time) is silent
// while the server's pause lasts; the read deadlines start afresh when the
// pause ends, so the peer is not dropped as silent for the time the server
// did not read. (Before the deadline was renewed at the end of a pause, the
// reader's first read after it timed out at once.)
func TestExposeServerPauseKeepsWaitingPeer(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	const hbTimeout, pause = time.Second, 2 * time.Second
	s, _ := startServer(t, rpc.Config{MaxInFlight: 1, HeartbeatTimeout: hbTimeout, HeartbeatInterval: hbTimeout / 4},
		func(s *rpc.Server) { registerExposure(s, release) })
	c := dial(t, s)
	c.call(`"msgpattern:heartbeat"`, `null`, `"hb0"`, valueReply(`"pong"`, `"hb0"`))
	// The ping rides in with the requests, and is read while the server
	// is paused (into its chunk's room): the peer then waits for it.
	c.write(reqFrame(`"block"`, `null`, `"b"`) + reqFrame(`"sum"`, `[2]`, `"after"`) +
		reqFrame(`"msgpattern:heartbeat"`, `null`, `"hb1"`))
	time.Sleep(pause) // twice HeartbeatTimeout: the peer waits, silent
	close(release)
	c.expectFrame(valueReply(`"released"`, `"b"`))
	c.expectFrame(valueReply(`2`, `"after"`))
	c.expectFrame(valueReply(`"pong"`, `"hb1"`))
	// Answered, the peer pings again at once: it is still connected.
	c.call(`"msgpattern:heartbeat"`, `null`, `"hb2"`, valueReply(`"pong"`, `"hb2"`))
	if n := s.GetMetrics().Heartbeats.Failed; n != 0 {
		t.Errorf("heartbeat failures = %d", n)
	}
}

// TestExposePausedPeerLeaves: a peer that leaves while its connection is
// paused at MaxInFlight has its handlers cancelled at once, not at their
// deadline: the paused reader still watches the socket.
func TestExposePausedPeerLeaves(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	s, _ := startServer(t, rpc.Config{MaxInFlight: 2}, func(s *rpc.Server) { registerExposure(s, release) })
	c := dial(t, s)
	c.write(reqFrame(`"block"`, `null`, `1`) + reqFrame(`"block"`, `null`, `2`) + reqFrame(`"block"`, `null`, `3`))
	waitMetric(t, s, "in_flight", 2, func(m rpc.Metrics) int64 { return m.InFlight })
	c.close()
	waitMetric(t, s, "in_flight", 0, func(m rpc.Metrics) int64 { return m.InFlight })
	// The third, read before the end of the stream, starts with its
	// context ended (as it would have without the pause, started and then
	// cancelled): it ends at once too.
	if n := s.GetMetrics().ErrorByKind.Canceled; n != 3 {
		t.Errorf("canceled = %d, want the 2 running handlers and the one read before the end", n)
	}
	// And a slot that frees while the reader watches the socket resumes it
	// at once.
	c2 := dial(t, s)
	c2.write(reqFrame(`"slow"`, `"a"`, `1`) + reqFrame(`"slow"`, `"b"`, `2`) + reqFrame(`"sum"`, `[3]`, `3`))
	got := map[string]bool{c2.readFrame(): true, c2.readFrame(): true, c2.readFrame(): true}
	for _, want := range []string{valueReply(`"slow:a"`, `1`), valueReply(`"slow:b"`, `2`), valueReply(`3`, `3`)} {
		if !got[want] {
			t.Errorf("missing reply %s; got %v", want, got)
		}
	}
}

// TestExposeHalfCloseWhilePausedServesBuffered: requests read before the
// peer half-closes are served, also when the connection was paused at
// MaxInFlight. The paused reader read the end of the stream into the room
// its chunk had left, and returned with the requests behind it unserved:
// a batch client (nc -N) pipelining more than MaxInFlight slow requests
// got only the first replies, nothing counted or logged. Handlers running
// at the end of the stream are told (their context ends), as without the
// pause; these two ignore it and answer.
func TestExposeHalfCloseWhilePausedServesBuffered(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	told := make(chan struct{}, 2)
	s, _ := startServer(t, rpc.Config{MaxInFlight: 2}, func(s *rpc.Server) {
		s.Handle("hold", rpc.Typed(func(ctx context.Context, _ json.RawMessage) (string, error) {
			<-ctx.Done()
			told <- struct{}{}
			<-release
			return "held", nil
		}))
		s.Handle("fast", rpc.Func(func(json.RawMessage) (any, error) { return "fast", nil }))
	})
	c := dial(t, s)
	c.write(reqFrame(`"hold"`, `null`, `1`) + reqFrame(`"hold"`, `null`, `2`) +
		reqFrame(`"fast"`, `null`, `3`) + reqFrame(`"fast"`, `null`, `4`))
	waitMetric(t, s, "in_flight", 2, func(m rpc.Metrics) int64 { return m.InFlight })
	if err := c.nc.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	<-told // the paused reader read the end of the stream
	<-told
	close(release)
	want := map[string]bool{
		valueReply(`"held"`, `1`): true, valueReply(`"held"`, `2`): true,
		valueReply(`"fast"`, `3`): true, valueReply(`"fast"`, `4`): true,
	}
	for len(want) > 0 {
		f, err := c.readFrameErr(ioTimeout)
		if err != nil {
			t.Fatalf("%v; replies missing: %v", err, want)
		}
		if !want[f] {
			t.Fatalf("unexpected reply %s", f)
		}
		delete(want, f)
	}
	c.expectClosed()
}

// TestExposeEvictionsHeldToClosingBound: connections evicted at
// MaxConnections count against the closing connections' bound too: past
// it they close without lingering. An attacker dialling silent connections
// kept every evicted one lingering for 5 s (1000 against a bound of 250).
func TestExposeEvictionsHeldToClosingBound(t *testing.T) {
	t.Parallel()
	const maxConns = 64 // closing bound: 16
	s, _ := startServer(t, rpc.Config{MaxConnections: maxConns, EvictIdleAfter: 100 * time.Millisecond},
		func(s *rpc.Server) { registerProbe(s) })
	for range maxConns {
		rawDial(t, s, 0) // silent, never closed by the peer
	}
	if !eventually(ioTimeout, func() bool { return s.GetMetrics().ActiveConnections == maxConns }) {
		t.Fatalf("not all admitted: %+v", s.GetMetrics())
	}
	time.Sleep(200 * time.Millisecond) // all idle past EvictIdleAfter
	for range maxConns {
		rawDial(t, s, 0) // each evicts one
	}
	if !eventually(ioTimeout, func() bool { return limits(s).EvictedIdle == maxConns }) {
		t.Fatalf("evicted %d, want %d", limits(s).EvictedIdle, maxConns)
	}
	// Those past the bound close at once; the others linger (5 s).
	var l rpc.LimitMetrics
	if !eventually(2*time.Second, func() bool { l = limits(s); return l.ClosingConnections <= 16 }) {
		t.Errorf("%d connections closing, bound 16 (linger_skipped %d)", l.ClosingConnections, l.LingerSkipped)
	}
	if l.LingerSkipped < maxConns-16 {
		t.Errorf("linger_skipped %d, want at least %d", l.LingerSkipped, maxConns-16)
	}
	t.Logf("closing %d, linger_skipped %d", l.ClosingConnections, l.LingerSkipped)
}
