package rpc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/wire"
)

// What an idle connection holds (idle.go). These tests look inside the
// server, so they are in package rpc.

// raceEnabled is set by idle_race_test.go.
var raceEnabled bool

// startIdleTestServer starts a server whose connections stay warm for
// warmFor (idle.go); 0 keeps the default.
func startIdleTestServer(t *testing.T, warmFor time.Duration, cfg Config) *Server {
	t.Helper()
	cfg.Addr, cfg.RateLimitPerSec, cfg.RetryAttempts = "127.0.0.1:0", -1, -1
	s := NewServer(&cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if warmFor > 0 {
		s.warmFor = warmFor
	}
	s.Handle("sum", Typed(func(_ context.Context, xs []float64) (float64, error) { return xs[0] + xs[1], nil }))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s
}

func idleSumRequest(id int) []byte {
	return wire.AppendRequest(nil, wire.NestJS, []byte(`"sum"`), []byte(`[1,2]`), nil, strconv.AppendInt(nil, int64(id), 10))
}

// readIdleReply reads one reply frame (ASCII: its length in bytes) and
// checks that it answers 3 to id.
func readIdleReply(t *testing.T, r *bufio.Reader, id int) {
	t.Helper()
	body, err := readReply(r)
	if err != nil {
		t.Fatalf("reading a reply: %v", err)
	}
	if want := fmt.Sprintf(`{"response":3,"isDisposed":true,"id":%d}`, id); body != want {
		t.Fatalf("reply %s, want %s", body, want)
	}
}

// idleChunk waits until c's reader has given its chunk's tail to the
// cache, which it does just before it waits for input, and returns the
// chunk it holds then. It looks under the cache's lock: the reader gave the
// tail back under it, and takes a chunk under it when it wakes.
func idleChunk(t *testing.T, s *Server, c *conn) []byte {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.spare.mu.Lock()
		if s.spare.n > 0 {
			rbuf := c.rbuf
			s.spare.mu.Unlock()
			return rbuf
		}
		s.spare.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("no reader gave its chunk back while waiting for input")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestIdleConnectionHoldsNoReadChunk: after a round trip, a reader waiting
// for input holds no read chunk, and still serves what comes later, also a
// frame that arrives in pieces.
func TestIdleConnectionHoldsNoReadChunk(t *testing.T) {
	// Requests here come close together: the connection turns warm, and
	// goes idle once it has been quiet for warmFor.
	s := startIdleTestServer(t, 10*time.Millisecond, Config{})
	nc, r := dialIdleTest(t, s)
	for id := range 3 {
		req := idleSumRequest(id)
		if _, err := nc.Write(req); err != nil {
			t.Fatal(err)
		}
		readIdleReply(t, r, id)

		s.mu.Lock()
		c := s.connList[0]
		s.mu.Unlock()
		if rbuf := idleChunk(t, s, c); rbuf != nil {
			t.Fatalf("round trip %d: an idle connection holds a %d-byte read chunk", id, cap(rbuf))
		}

		// The next request in two pieces: the reader wakes with half a frame.
		id += 100
		req = idleSumRequest(id)
		if _, err := nc.Write(req[:len(req)/2]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		if _, err := nc.Write(req[len(req)/2:]); err != nil {
			t.Fatal(err)
		}
		readIdleReply(t, r, id)
	}
}

// stacksMeasured is set once TestIdleConnectionWaitsOnOneSmallStack has
// measured stacks in this process.
var stacksMeasured bool

// TestIdleConnectionWaitsOnOneSmallStack: a connection that served a
// request and went idle costs one goroutine, whose stack is not the one
// the handler grew.
func TestIdleConnectionWaitsOnOneSmallStack(t *testing.T) {
	s := startIdleTestServer(t, 0, Config{})
	const n = 200
	conns := make([]net.Conn, n)
	defer func() {
		for _, nc := range conns {
			if nc != nil {
				nc.Close()
			}
		}
	}()
	// StackInuse also counts the stacks the runtime keeps for exited
	// goroutines, so the measure is exact only the first time in a
	// process: test.sh runs this test alone, without -race, for that.
	firstMeasure := !stacksMeasured
	stacksMeasured = true
	runtime.GC()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()
	for i := range conns {
		nc, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = nc
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := nc.Write(idleSumRequest(i)); err != nil {
			t.Fatal(err)
		}
		readIdleReply(t, bufio.NewReader(nc), i)
	}
	// Every reader has gone idle once its reply is out and its old
	// goroutine exited: wait for the count to settle.
	var perConn float64
	for deadline := time.Now().Add(5 * time.Second); ; {
		perConn = float64(runtime.NumGoroutine()-goroutines) / n
		if perConn <= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if perConn > 1 {
		t.Errorf("%.2f goroutines per idle connection, want 1", perConn)
	}
	runtime.GC() // frees the stack spans of the exited readers
	runtime.GC()
	runtime.ReadMemStats(&after)
	stack := (float64(after.StackInuse) - float64(before.StackInuse)) / n
	// A reader that ran the handler and waited itself had grown to 4 KiB;
	// a fresh one starts at the runtime's starting size, 2 KiB (with
	// -race, frames are larger and so is the starting size).
	if stack > 3<<10 && !raceEnabled && firstMeasure {
		t.Errorf("%.0f bytes of stack per idle connection, want at most 3 KiB", stack)
	}
	t.Logf("per idle connection: %.2f goroutines, %.0f bytes of stack", perConn, stack)
}

// TestChunkCacheKeepsFewUsableTails: the cache of chunk tails is bounded in
// count and in the size of what it keeps.
func TestChunkCacheKeepsFewUsableTails(t *testing.T) {
	var cc chunkCache
	cc.put(make([]byte, minChunk/2-1))    // too small to read into
	cc.put(make([]byte, recvAllowance+1)) // would need budget
	if cc.n != 0 {
		t.Fatalf("kept %d tails out of bounds", cc.n)
	}
	for range len(cc.bufs) + 4 {
		cc.put(make([]byte, 1000))
	}
	if cc.n != len(cc.bufs) {
		t.Fatalf("kept %d tails, want %d", cc.n, len(cc.bufs))
	}
	// A tail too small for the frame expected is left for another reader.
	if b := cc.get(2000, 4096); len(b) != 4096 || cc.n != len(cc.bufs) {
		t.Fatalf("got a %d-byte chunk (%d kept), want a new 4096-byte one", len(b), cc.n)
	}
	for range len(cc.bufs) {
		if b := cc.get(600, 4096); len(b) != 1000 {
			t.Fatalf("got a %d-byte chunk, want a kept 1000-byte tail", len(b))
		}
	}
	if b := cc.get(600, 4096); len(b) != 4096 {
		t.Fatalf("got a %d-byte chunk from an empty cache, want a new 4096-byte one", len(b))
	}
}

// TestIdleWakeReadsAFrameAtOnce: a connection whose frames are larger
// than the first chunk learns their size, so that, woken from idle, it
// reads each in one read rather than two.
func TestIdleWakeReadsAFrameAtOnce(t *testing.T) {
	c := &conn{chunk: minChunk * 2}
	if need, size := c.nextChunkSize(); need > minChunk*2 || size != minChunk*2 {
		t.Fatalf("before any frame: need %d, size %d", need, size)
	}
	c.lastFrame = 4200
	need, size := c.nextChunkSize()
	if need < 4200 || size < 2*need {
		t.Fatalf("after a 4200-byte frame: need %d, size %d; want room for it, twice in a new chunk", need, size)
	}
	c.lastFrame = 10 << 20
	if need, size := c.nextChunkSize(); need > recvAllowance || size > recvAllowance {
		t.Fatalf("after a 10 MiB frame: need %d, size %d; want at most recvAllowance", need, size)
	}
}

// TestIdleChurnKeepsOneReaderPerConnection attacks the hand-off to a fresh
// goroutine on going idle: peers that send a request, read the reply and
// pause, again and again, make the server start a reader goroutine per
// request. The old one exits as the new one starts, so a connection never
// has more than one, and an honest client on the same server is served
// throughout.
func TestIdleChurnKeepsOneReaderPerConnection(t *testing.T) {
	// Pauses longer than warmFor: every request finds the connection idle,
	// and every pause passes through a warm wait that times out.
	s := startIdleTestServer(t, 300*time.Microsecond, Config{})
	base := runtime.NumGoroutine()
	const peers, rounds = 20, 40
	var wg sync.WaitGroup
	errs := make(chan error, peers)
	for p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				errs <- err
				return
			}
			defer nc.Close()
			r := bufio.NewReader(nc)
			for i := range rounds {
				id := p*rounds + i
				if _, err := nc.Write(idleSumRequest(id)); err != nil {
					errs <- err
					return
				}
				head, err := r.ReadString('#')
				if err != nil {
					errs <- err
					return
				}
				n, _ := strconv.Atoi(strings.TrimSuffix(head, "#"))
				if _, err := io.ReadFull(r, make([]byte, n)); err != nil {
					errs <- err
					return
				}
				time.Sleep(time.Millisecond) // idle: the reader passes the role on
			}
		}()
	}
	stop, done := make(chan struct{}), make(chan struct{})
	most := 0
	go func() {
		defer close(done)
		for {
			most = max(most, runtime.NumGoroutine())
			select {
			case <-time.After(200 * time.Microsecond):
			case <-stop:
				return
			}
		}
	}()
	// The honest client, beside the churn.
	c, err := NewClient(s.Addr().String(), WithPool(1, false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 20 {
		var out float64
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := c.Send(ctx, "sum", []float64{1, 2}, &out)
		cancel()
		if err != nil || out != 3 {
			t.Fatalf("honest client: %v, %v", out, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	close(stop)
	<-done
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Each peer: its goroutine here and at most one reader there; the
	// honest client adds its reader, writer, heartbeat and their closer,
	// and its server-side reader; the sampler one: 51 seen. A reader per
	// request left behind would be hundreds.
	if limit := base + 2*peers + 15; most > limit {
		t.Errorf("%d goroutines at most during %d×%d request/idle rounds, want at most %d (%d before)",
			most, peers, rounds, limit, base)
	}
	t.Logf("%d goroutines at most (%d before), %d peers", most, base, peers)
}

// dialIdleTest connects to s; the connection closes when the test ends.
func dialIdleTest(t *testing.T, s *Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return nc, bufio.NewReader(nc)
}

// roundTrips makes n round trips of "sum" on nc, one at a time.
func roundTrips(t *testing.T, nc net.Conn, r *bufio.Reader, from, n int) {
	t.Helper()
	for id := from; id < from+n; id++ {
		if _, err := nc.Write(idleSumRequest(id)); err != nil {
			t.Fatal(err)
		}
		readIdleReply(t, r, id)
	}
}

// waitWentIdle waits until s's readers have gone idle want times in all.
func waitWentIdle(t *testing.T, s *Server, want uint64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); s.stats.wentIdle.Load() < want; {
		if time.Now().After(deadline) {
			t.Fatalf("readers went idle %d times, want %d", s.stats.wentIdle.Load(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWarmConnectionKeepsItsReader: a connection whose requests come close
// together keeps its reader, with its stack and chunk, rather than moving
// it to a fresh goroutine after every request; once quiet for warmFor it
// goes idle (one fresh goroutine, no chunk held) and is still served.
func TestWarmConnectionKeepsItsReader(t *testing.T) {
	s := startIdleTestServer(t, 300*time.Millisecond, Config{})
	nc, r := dialIdleTest(t, s)

	// The first request finds the connection cold: its reader goes idle
	// once. From the second on, requests come close together.
	roundTrips(t, nc, r, 0, 2)
	waitWentIdle(t, s, 1)
	roundTrips(t, nc, r, 2, 50)
	if n := s.stats.wentIdle.Load(); n > 1 {
		t.Fatalf("readers went idle %d times in 52 back-to-back round trips, want 1", n)
	}
	s.mu.Lock()
	c := s.connList[0]
	s.mu.Unlock()
	// Quiet for warmFor: the reader gives its chunk back and moves to a
	// fresh goroutine.
	if rbuf := idleChunk(t, s, c); rbuf != nil {
		t.Fatalf("a connection quiet for warmFor holds a %d-byte read chunk", cap(rbuf))
	}
	waitWentIdle(t, s, 2)
	roundTrips(t, nc, r, 100, 3)
}

// TestWarmWaitKeepsHeartbeatTimeout: a warm connection that sends
// heartbeats and then falls silent is closed HeartbeatTimeout after its
// last bytes, not warmFor later.
func TestWarmWaitKeepsHeartbeatTimeout(t *testing.T) {
	// The two readings are hbTimeout (less a quarter, armReadDeadline
	// renewing lazily) and warm+hbTimeout: with 800/600 ms only 400 ms
	// separated the right one from the bound, which a loaded machine can
	// add to a close. 2.5 s/2 s leave 1.4 s.
	const hbTimeout, warm = 2500 * time.Millisecond, 2 * time.Second
	s := startIdleTestServer(t, warm, Config{HeartbeatInterval: 100 * time.Millisecond, HeartbeatTimeout: hbTimeout})
	nc, r := dialIdleTest(t, s)
	ping := wire.AppendRequest(nil, wire.NestJS, heartbeatPatternJSON, []byte(`null`), nil, []byte(`"hb"`))
	if _, err := nc.Write(ping); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadString('}'); err != nil {
		t.Fatal(err)
	}
	roundTrips(t, nc, r, 0, 10) // warm now
	last := time.Now()
	// Silent: the server closes the connection.
	if _, err := r.ReadByte(); err == nil {
		t.Fatal("the server sent something to a silent peer")
	}
	// HeartbeatTimeout counted from the last request (at least three
	// quarters of it, as armReadDeadline renews lazily); counted from the
	// end of the warm wait it would be warm+hbTimeout.
	if took := time.Since(last); took < hbTimeout*3/4 || took >= warm+hbTimeout*3/4 {
		t.Fatalf("closed %v after the last request, want about %v", took, hbTimeout)
	}
}
