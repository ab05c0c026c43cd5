package rpc_test

// Hostile peers: stallers, garbage senders, oversized prefixes, rate-limit
// flooders and a connection hog, all at once, for about three seconds,
// while one well-behaved client must keep getting correct, timely replies.
// Every hostile loop is bounded in iterations and time and stops by itself.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/msgpattern/msgpattern/rpc"
)

const rateLimitedErr = `{"status":"error","message":"Rate limit exceeded"}`

// hostileStats are the counters of the hostile peers, all client side.
type hostileStats struct {
	stallConns, stallClosed, stallMaxCloseNs  atomic.Int64
	garbageConns, garbageAdmitted, garbageBad atomic.Int64
	garbageClosed, garbageSurvived            atomic.Int64
	oversizeConns, oversizeClosed             atomic.Int64
	floodSent, floodValues, floodLimited      atomic.Int64
	floodMaxBatchNs                           atomic.Int64
	hogDials, hogAccepted, hogRejected        atomic.Int64
	hogMaxHeld, hogMaxRejectNs                atomic.Int64
	goodCalls, goodMaxNs                      atomic.Int64
	heapPeak, activePeak                      atomic.Int64
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// hostileT collects failures from goroutines; the test reports them.
type hostileT struct {
	mu       sync.Mutex
	problems []string
	dropped  int
}

func (h *hostileT) errorf(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.problems) < 30 {
		h.problems = append(h.problems, fmt.Sprintf(format, args...))
	} else {
		h.dropped++
	}
}

// readUntilClosed reads and discards until the peer closes the connection
// or d passes; it reports whether the connection was closed, how long that
// took and how many bytes came.
func readUntilClosed(nc net.Conn, d time.Duration) (closed bool, took time.Duration, n int64) {
	start := time.Now()
	nc.SetReadDeadline(start.Add(d))
	n, err := io.Copy(io.Discard, nc)
	took = time.Since(start)
	if err == nil || closedErr(err) {
		return true, took, n
	}
	return false, took, n
}

func TestHostilePeers(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	cfg := rpc.Config{
		MaxConnections:  40,
		RateLimitPerSec: 50,
		RateLimitBurst:  50,
		FrameTimeout:    300 * time.Millisecond,
		MaxFrameSize:    64 << 10,
	}
	s, stopServer := startServer(t, cfg, func(s *rpc.Server) { registerProbe(s) })
	addr := s.Addr().String()

	// (f) The well-behaved client connects first.
	good := dial(t, s)
	bystanderCheck(t, good, "first")

	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapInuse
	goroutinesBefore := runtime.NumGoroutine()

	// (d) The flooders connect before the hog fills the server.
	var flooders []net.Conn
	for range 3 {
		nc, err := net.DialTimeout("tcp", addr, ioTimeout)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { nc.Close() })
		flooders = append(flooders, nc)
	}
	waitMetric(t, s, "active_connections", 4, func(m rpc.Metrics) int64 { return m.ActiveConnections })

	const phase = 3 * time.Second
	var (
		st   hostileStats
		ht   hostileT
		wg   sync.WaitGroup
		stop = make(chan struct{})
	)
	start := time.Now()
	stopAt := start.Add(phase)
	// Every loop stops by itself at stopAt, or when stop is closed.
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return time.Now().After(stopAt)
		}
	}
	dialPeer := func() (net.Conn, bool) {
		nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			ht.errorf("dial %s: %v", addr, err)
			return nil, false
		}
		return nc, true
	}
	write := func(nc net.Conn, b []byte) error {
		nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, err := nc.Write(b)
		return err
	}
	goroutine := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}

	// Samplers: heap in use and the active-connections gauge.
	goroutine(func() {
		var ms runtime.MemStats
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for !stopped() {
			runtime.ReadMemStats(&ms)
			storeMax(&st.heapPeak, int64(ms.HeapInuse))
			select {
			case <-stop:
			case <-tick.C:
			}
		}
	})
	goroutine(func() {
		for !stopped() {
			storeMax(&st.activePeak, s.GetMetrics().ActiveConnections)
			time.Sleep(5 * time.Millisecond)
		}
	})

	// (a) Stallers: half a frame, then silence (or a trickle that never
	// completes it). The server must drop them FrameTimeout after the
	// frame began.
	stalls := []func(nc net.Conn) error{
		func(nc net.Conn) error { // half a valid request
			f := reqFrame(`"sum"`, `[1,2,3]`, `"stall"`)
			return write(nc, []byte(f[:len(f)/2]))
		},
		func(nc net.Conn) error { return write(nc, []byte("12")) },                          // a prefix without '#'
		func(nc net.Conn) error { return write(nc, []byte("   ")) },                         // blanks: framing undecided
		func(nc net.Conn) error { return write(nc, []byte(`{"pattern":"sum","data":[1]`)) }, // a line without its end
		func(nc net.Conn) error { // a trickle: one byte every 40ms; FrameTimeout still counts from the first
			for _, b := range []byte("1000#" + reqBody(`"sum"`, `[1]`, `1`)) {
				if err := write(nc, []byte{b}); err != nil {
					return nil // closed meanwhile: fine
				}
				nc.SetReadDeadline(time.Now().Add(40 * time.Millisecond))
				var one [1]byte
				if _, err := nc.Read(one[:]); err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
					return nil // closed (or, wrongly, answered: readUntilClosed reports bytes)
				}
			}
			return nil
		},
	}
	for p := range 5 {
		goroutine(func() {
			for i := 0; i < 40 && !stopped(); i++ {
				nc, ok := dialPeer()
				if !ok {
					return
				}
				st.stallConns.Add(1)
				t0 := time.Now()
				if err := stalls[(p+i)%len(stalls)](nc); err != nil {
					nc.Close()
					continue // refused at once: the write hit the close
				}
				closed, _, n := readUntilClosed(nc, 10*cfg.FrameTimeout)
				took := time.Since(t0)
				nc.Close()
				if !closed {
					ht.errorf("staller %d/%d: connection still open %v after half a frame (FrameTimeout %v)", p, i, took, cfg.FrameTimeout)
					continue
				}
				if n > 0 {
					ht.errorf("staller %d/%d: got %d bytes for an incomplete frame", p, i, n)
				}
				st.stallClosed.Add(1)
				storeMax(&st.stallMaxCloseNs, int64(took))
			}
		})
	}

	// (b) Garbage: invalid JSON frames (skipped, the connection carries on,
	// as a valid request after them shows), then random bytes.
	badFrames := []string{
		frame(`{`), frame(`{"pattern":"sum","data":[1,2`), frame(`not json`), frame(`{"pattern":"sum",}`),
		frame(`[1,2]`), frame(`12.34`), frame(`null`), frame(`"str"`), frame(`{"a":1}}`), frame(`{"pattern":"sum" "data":1}`),
	}
	for p := range 5 {
		goroutine(func() {
			rng := rand.New(rand.NewPCG(uint64(p), 99))
			for i := 0; i < 300 && !stopped(); i++ {
				nc, ok := dialPeer()
				if !ok {
					return
				}
				st.garbageConns.Add(1)
				br := bufio.NewReader(nc)
				var buf []byte
				nbad := 1 + rng.IntN(6)
				for range nbad {
					buf = append(buf, badFrames[rng.IntN(len(badFrames))]...)
				}
				id := strconv.Quote(fmt.Sprintf("g%d-%d", p, i))
				a, b := rng.IntN(1000), rng.IntN(1000)
				buf = append(buf, reqFrame(`"sum"`, fmt.Sprintf("[%d,%d]", a, b), id)...)
				if write(nc, buf) != nil {
					nc.Close()
					continue
				}
				nc.SetReadDeadline(time.Now().Add(2 * time.Second))
				got, err := readNestFrame(br)
				switch {
				case err == nil:
					if want := valueReply(strconv.Itoa(a+b), id); got != want {
						ht.errorf("garbage peer: after %d invalid frames got %q, want %q", nbad, got, want)
					}
					st.garbageAdmitted.Add(1)
					st.garbageBad.Add(int64(nbad))
				case closedErr(err) && got == "":
					nc.Close() // refused: MaxConnections
					continue
				default:
					ht.errorf("garbage peer: reply to a request after %d invalid frames: %v (got %q)", nbad, err, got)
					nc.Close()
					continue
				}
				// Random bytes; sometimes after a well-formed prefix, so
				// that framing is already decided.
				junk := make([]byte, 16+rng.IntN(512))
				for j := range junk {
					junk[j] = byte(rng.UintN(256))
				}
				if rng.IntN(2) == 0 {
					junk[0] = '1' + byte(rng.IntN(9))
				}
				if write(nc, junk) == nil {
					// Most garbage is a framing error (closed at once) or a
					// frame that never completes (closed at FrameTimeout);
					// by chance it may also be whole frames, leaving the
					// connection open and idle: then we leave.
					if closed, _, _ := readUntilClosed(nc, 5*cfg.FrameTimeout); closed {
						st.garbageClosed.Add(1)
					} else {
						st.garbageSurvived.Add(1)
					}
				}
				nc.Close()
			}
		})
	}

	// (c) Oversized prefixes: closed as soon as the prefix is read, before
	// any body is buffered, even when a body follows.
	for p := range 5 {
		goroutine(func() {
			body := make([]byte, 256<<10)
			for i := 0; i < 1000 && !stopped(); i++ {
				nc, ok := dialPeer()
				if !ok {
					return
				}
				st.oversizeConns.Add(1)
				msg := []byte("99999999#")
				if i%4 == 3 {
					msg = append(msg, body...)
				}
				write(nc, msg) // may fail: the server closes at once
				closed, _, n := readUntilClosed(nc, 2*time.Second)
				nc.Close()
				if !closed {
					ht.errorf("oversize peer %d/%d: connection still open 2s after a %s prefix (MaxFrameSize %d)", p, i, "99999999#", cfg.MaxFrameSize)
					continue
				}
				if n > 0 {
					ht.errorf("oversize peer %d/%d: got %d bytes", p, i, n)
				}
				st.oversizeClosed.Add(1)
				time.Sleep(2 * time.Millisecond)
			}
		})
	}

	// (d) Flooders: batches of 200 requests, far past 50/s; every request
	// must be answered promptly, by a value or "Rate limit exceeded".
	floodStart := time.Now()
	floodEnd := make([]time.Time, len(flooders))
	floodOK := make([]int64, len(flooders))
	for p, nc := range flooders {
		goroutine(func() {
			defer func() { floodEnd[p] = time.Now() }()
			br := bufio.NewReader(nc)
			const batch = 200
			var buf []byte
			for b := 0; b < 1000 && !stopped(); b++ {
				buf = buf[:0]
				for i := range batch {
					n := b*batch + i
					buf = append(buf, reqFrame(`"sum"`, fmt.Sprintf("[%d,1]", n), strconv.Itoa(n))...)
				}
				t0 := time.Now()
				if err := write(nc, buf); err != nil {
					ht.errorf("flooder %d: write: %v", p, err)
					return
				}
				st.floodSent.Add(batch)
				nc.SetReadDeadline(t0.Add(2 * time.Second))
				seen := make(map[string]bool, batch)
				for range batch {
					got, err := readNestFrame(br)
					if err != nil {
						ht.errorf("flooder %d: batch %d: %d of %d replies within 2s, then %v (got %q)", p, b, len(seen), batch, err, clip(got))
						return
					}
					id, _ := replyID(got)
					n, _ := strconv.Atoi(id)
					if seen[id] || n < b*batch || n >= (b+1)*batch {
						ht.errorf("flooder %d: unexpected or repeated reply %q", p, clip(got))
						return
					}
					seen[id] = true
					switch got {
					case valueReply(strconv.Itoa(n+1), id):
						st.floodValues.Add(1)
						floodOK[p]++
					case errReply(rateLimitedErr, id):
						st.floodLimited.Add(1)
					default:
						ht.errorf("flooder %d: reply %q is neither the sum nor %s", p, clip(got), rateLimitedErr)
						return
					}
				}
				storeMax(&st.floodMaxBatchNs, int64(time.Since(t0)))
			}
		})
	}

	// (e) The hog: opens connections until the server refuses some, holds
	// them a while, lets them go, again. A refused connection is closed at
	// once without a reply; an accepted one answers a request.
	goroutine(func() {
		var held []net.Conn
		defer func() {
			for _, nc := range held {
				nc.Close()
			}
		}()
		for cycle := 0; cycle < 20 && !stopped(); cycle++ {
			rejected := 0
			for attempt := 0; attempt < 80 && rejected < 5 && !stopped(); attempt++ {
				nc, ok := dialPeer()
				if !ok {
					return
				}
				st.hogDials.Add(1)
				id := strconv.Itoa(cycle*100 + attempt)
				t0 := time.Now()
				if write(nc, []byte(reqFrame(`"sum"`, `[2,3]`, id))) == nil {
					nc.SetReadDeadline(t0.Add(2 * time.Second))
					got, err := readNestFrame(bufio.NewReader(nc))
					switch {
					case err == nil && got == valueReply(`5`, id):
						held = append(held, nc)
						st.hogAccepted.Add(1)
						// Every held connection was served and is still
						// open, and so are the good client's and the
						// flooders': all count against MaxConnections.
						if len(held)+4 > cfg.MaxConnections {
							ht.errorf("hog holds %d served connections besides 4 others: MaxConnections %d exceeded", len(held), cfg.MaxConnections)
						}
						storeMax(&st.hogMaxHeld, int64(len(held)))
						continue
					case err == nil:
						ht.errorf("hog: unexpected reply %q", clip(got))
					case errors.Is(err, os.ErrDeadlineExceeded):
						ht.errorf("hog: connection neither served nor refused within 2s")
					case !closedErr(err) || got != "":
						ht.errorf("hog: read: %v (got %q)", err, got)
					}
				}
				// Refused: closed by the server without a reply.
				rejected++
				st.hogRejected.Add(1)
				storeMax(&st.hogMaxRejectNs, int64(time.Since(t0)))
				nc.Close()
			}
			select {
			case <-stop:
			case <-time.After(150 * time.Millisecond):
			}
			for _, nc := range held {
				nc.Close()
			}
			held = held[:0]
			select {
			case <-stop:
			case <-time.After(100 * time.Millisecond):
			}
		}
	})

	// (f) The well-behaved client: ~20 requests a second, each answered
	// correctly within 2s.
	goodDone := make(chan struct{})
	go func() {
		defer close(goodDone)
		rng := rand.New(rand.NewPCG(42, 42))
		for i := 0; i < 100 && time.Now().Before(stopAt); i++ {
			id := strconv.Quote("good-" + strconv.Itoa(i))
			var req, want string
			if i%2 == 0 {
				a, b := rng.IntN(1e6), rng.IntN(1e6)
				req, want = reqFrame(`"sum"`, fmt.Sprintf("[%d,%d]", a, b), id), valueReply(strconv.Itoa(a+b), id)
			} else {
				data := fmt.Sprintf(`{"i":%d,"s":"é😀\u0001","r":%d}`, i, rng.IntN(1e9))
				req, want = reqFrame(`"echo"`, data, id), valueReply(data, id)
			}
			t0 := time.Now()
			if err := write(good.nc, []byte(req)); err != nil {
				ht.errorf("good client: write %d: %v", i, err)
				return
			}
			good.nc.SetReadDeadline(t0.Add(2 * time.Second))
			got, err := readNestFrame(good.br)
			took := time.Since(t0)
			if err != nil {
				ht.errorf("good client: request %d: no reply within 2s: %v (got %q)", i, err, clip(got))
				return
			}
			if got != want {
				ht.errorf("good client: request %d:\n got: %q\nwant: %q", i, got, want)
			}
			st.goodCalls.Add(1)
			storeMax(&st.goodMaxNs, int64(took))
			time.Sleep(50 * time.Millisecond)
		}
	}()

	select {
	case <-goodDone:
	case <-time.After(phase + 5*time.Second):
		t.Error("the well-behaved client did not finish")
	}
	if d := time.Until(stopAt); d > 0 {
		time.Sleep(d)
	}
	close(stop)
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	select {
	case <-allDone:
	case <-time.After(10 * time.Second):
		t.Fatal("hostile peers did not stop within 10s of the end of the phase")
	}
	for _, nc := range flooders {
		nc.Close()
	}
	floodElapsed := time.Duration(0)
	for _, e := range floodEnd {
		floodElapsed = max(floodElapsed, e.Sub(floodStart))
	}

	ht.mu.Lock()
	for _, p := range ht.problems {
		t.Error(p)
	}
	if ht.dropped > 0 {
		t.Errorf("… and %d more problems", ht.dropped)
	}
	ht.mu.Unlock()

	// Only the well-behaved client is left, and it is still served.
	waitMetric(t, s, "active_connections", 1, func(m rpc.Metrics) int64 { return m.ActiveConnections })
	bystanderCheck(t, good, "after")
	m := s.GetMetrics()
	e := m.ErrorByKind

	ms2 := func() uint64 {
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	heapAfter := ms2()
	goroutinesAfter := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); goroutinesAfter > goroutinesBefore+2 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		goroutinesAfter = runtime.NumGoroutine()
	}

	t.Logf("well-behaved: %d calls, slowest %v", st.goodCalls.Load(), time.Duration(st.goodMaxNs.Load()))
	t.Logf("stallers: %d connections, %d closed by the server, slowest close %v (FrameTimeout %v)",
		st.stallConns.Load(), st.stallClosed.Load(), time.Duration(st.stallMaxCloseNs.Load()), cfg.FrameTimeout)
	t.Logf("garbage: %d connections, %d admitted (%d invalid frames skipped before a served request), then %d closed on garbage, %d survived it",
		st.garbageConns.Load(), st.garbageAdmitted.Load(), st.garbageBad.Load(), st.garbageClosed.Load(), st.garbageSurvived.Load())
	t.Logf("oversize: %d connections, %d closed", st.oversizeConns.Load(), st.oversizeClosed.Load())
	t.Logf("flooders: %d sent, %d served, %d rate limited, slowest batch of 200 %v, over %v",
		st.floodSent.Load(), st.floodValues.Load(), st.floodLimited.Load(), time.Duration(st.floodMaxBatchNs.Load()), floodElapsed)
	t.Logf("hog: %d dials, %d accepted, %d refused (slowest refusal %v), at most %d held; active_connections peak %d",
		st.hogDials.Load(), st.hogAccepted.Load(), st.hogRejected.Load(), time.Duration(st.hogMaxRejectNs.Load()), st.hogMaxHeld.Load(), st.activePeak.Load())
	t.Logf("server: rejected_connections %d, rate_limited %d, framing %d, bad_frame %d, requests %d, total_connections %d",
		m.RejectedConnections, e.RateLimited, e.Framing, e.BadFrame, m.Requests, m.TotalConnections)
	t.Logf("heap in use: before %.1f MiB, peak %.1f MiB, after %.1f MiB; goroutines before %d, after %d",
		float64(heapBefore)/(1<<20), float64(st.heapPeak.Load())/(1<<20), float64(heapAfter)/(1<<20), goroutinesBefore, goroutinesAfter)

	if st.goodCalls.Load() < 20 {
		t.Errorf("the well-behaved client made only %d calls in %v", st.goodCalls.Load(), phase)
	}
	if m.RejectedConnections == 0 || uint64(st.hogRejected.Load()) > m.RejectedConnections {
		t.Errorf("rejected_connections = %d, the hog saw %d refusals", m.RejectedConnections, st.hogRejected.Load())
	}
	if e.RateLimited == 0 || e.RateLimited != uint64(st.floodLimited.Load()) {
		t.Errorf("rate_limited = %d, the flooders got %d rate-limit replies", e.RateLimited, st.floodLimited.Load())
	}
	// Each flooder: at most the burst plus the rate over its lifetime.
	for p, ok := range floodOK {
		limit := int64(cfg.RateLimitBurst) + int64(float64(cfg.RateLimitPerSec)*floodElapsed.Seconds()*1.1) + 5
		if ok > limit {
			t.Errorf("flooder %d was served %d requests in %v; the rate limit allows about %d", p, ok, floodElapsed, limit)
		}
	}
	if e.Framing == 0 {
		t.Error("framing = 0 after stallers, garbage and oversized prefixes")
	}
	if e.BadFrame == 0 || e.BadFrame < uint64(st.garbageBad.Load()) {
		t.Errorf("bad_frame = %d, at least %d invalid frames were skipped on served connections", e.BadFrame, st.garbageBad.Load())
	}
	if st.activePeak.Load() > int64(cfg.MaxConnections) {
		t.Errorf("active_connections peaked at %d, MaxConnections is %d", st.activePeak.Load(), cfg.MaxConnections)
	}
	if heapAfter > heapBefore+64<<20 {
		t.Errorf("heap in use grew from %d to %d bytes", heapBefore, heapAfter)
	}
	if goroutinesAfter > goroutinesBefore+2 {
		t.Errorf("goroutines: %d before the hostile peers, %d after they stopped", goroutinesBefore, goroutinesAfter)
	}
	good.close()
	waitMetric(t, s, "active_connections", 0, func(m rpc.Metrics) int64 { return m.ActiveConnections })
	if err := stopServer(); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	goleak.VerifyNone(t, leaks)
}
