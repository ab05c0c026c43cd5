package rpc_test

// Shutdown under load: pipelined clients keep sending while the server
// drains. Every request the server read must be answered exactly once;
// every request it did not read must get no reply (it is the client's to
// retry); every connection must be closed by the server; nothing leaks.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/msgpattern/msgpattern/rpc"
)

const shuttingDownErr = `{"status":"error","message":"Server shutting down"}`

type workIn struct {
	N  int `json:"n"`
	Ms int `json:"ms"`
}

// registerLoadHandlers registers "work" (takes in.Ms milliseconds, 0 for an
// instant reply, and returns 2n+1), "count" (a stream of 1..k) and "blob"
// (a string of n x's).
func registerLoadHandlers(s *rpc.Server) {
	s.Handle("blob", rpc.Typed(func(_ context.Context, n int) (string, error) {
		return strings.Repeat("x", n), nil
	}))
	s.Handle("work", rpc.Typed(func(ctx context.Context, in workIn) (int, error) {
		if in.Ms > 0 {
			tm := time.NewTimer(time.Duration(in.Ms) * time.Millisecond)
			defer tm.Stop()
			select {
			case <-tm.C:
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		return 2*in.N + 1, nil
	}))
	s.Handle("count", rpc.Stream(func(ctx context.Context, k int) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			for i := 1; i <= k; i++ {
				if i%2 == 0 {
					tm := time.NewTimer(time.Millisecond)
					select {
					case <-tm.C:
					case <-ctx.Done():
						tm.Stop()
						yield(0, ctx.Err())
						return
					}
				}
				if !yield(i, nil) {
					return
				}
			}
		}
	}))
}

// loadReq is what a load client sent under one id.
type loadReq struct {
	stream bool
	blob   bool
	n      int // work: the input; count: k
	next   int // count: the next value expected
	final  bool
}

// loadClient pipelines requests on one connection and checks every reply.
type loadClient struct {
	name  string
	nc    net.Conn
	br    *bufio.Reader
	slots chan struct{} // in-flight budget: a slot is returned by a final reply
	// Set before the loops start: blob > 0 makes every request a "blob" of
	// that size; readPause slows the reader down after each frame.
	blob      int
	blobValue string
	readPause time.Duration

	mu   sync.Mutex
	sent map[string]*loadReq // by quoted id
	// Results, under mu.
	nSent, nFinal, nValues, nShutdownErrs, nStreams int
	problems                                        []string
	endErr                                          error // what ended the reader
	endPartial                                      string
	writeErr                                        error // what ended the writer, if a write failed

	readerDone, writerDone chan struct{}
}

const (
	loadInFlight   = 32
	loadMaxPerConn = 200_000          // bound on the requests of one client
	loadHardStop   = 12 * time.Second // no client loop runs longer than this
)

func newLoadClient(t *testing.T, addr, name string) *loadClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	lc := &loadClient{
		name: name, nc: nc, br: bufio.NewReader(nc),
		slots:      make(chan struct{}, loadInFlight),
		sent:       map[string]*loadReq{},
		readerDone: make(chan struct{}), writerDone: make(chan struct{}),
	}
	for range loadInFlight {
		lc.slots <- struct{}{}
	}
	return lc
}

func (lc *loadClient) problemf(format string, args ...any) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.problemLocked(format, args...)
}

func (lc *loadClient) problemLocked(format string, args ...any) {
	if len(lc.problems) < 20 {
		lc.problems = append(lc.problems, lc.name+": "+fmt.Sprintf(format, args...))
	}
}

// writeLoop sends requests, as many as the in-flight budget allows, until
// the connection is closed (by the server) or a bound is hit. A write
// error ends it: the ids of that write stay sent-but-unanswered unless the
// server read them.
func (lc *loadClient) writeLoop(seed uint64) {
	defer close(lc.writerDone)
	rng := rand.New(rand.NewPCG(seed, 7))
	stopAt := time.Now().Add(loadHardStop)
	var buf []byte
	seq := 0
	for seq < loadMaxPerConn && time.Now().Before(stopAt) {
		select {
		case <-lc.slots:
		case <-lc.readerDone:
			return
		case <-time.After(ioTimeout):
			// With requests in flight and the server not shutting down a
			// reply is due within a few ms; during a drain the server
			// closes the connection. Either way the reader ends first.
			lc.problemf("no reply and no close for %v with %d requests in flight", ioTimeout, loadInFlight)
			return
		}
		n := 1
	more:
		for n < 8 {
			select {
			case <-lc.slots:
				n++
			default:
				break more
			}
		}
		buf = buf[:0]
		lc.mu.Lock()
		for range n {
			seq++
			id := strconv.Quote(lc.name + "-" + strconv.Itoa(seq))
			r := &loadReq{}
			if lc.blob > 0 {
				r.blob, r.n = true, lc.blob
				buf = append(buf, reqFrame(`"blob"`, strconv.Itoa(lc.blob), id)...)
			} else if rng.IntN(8) == 0 {
				r.stream, r.n, r.next = true, 1+rng.IntN(5), 1
				buf = append(buf, reqFrame(`"count"`, strconv.Itoa(r.n), id)...)
			} else {
				ms := 0
				if rng.IntN(3) != 0 {
					ms = 1 + rng.IntN(20)
				}
				r.n = rng.IntN(1_000_000)
				buf = append(buf, reqFrame(`"work"`, `{"n":`+strconv.Itoa(r.n)+`,"ms":`+strconv.Itoa(ms)+`}`, id)...)
			}
			lc.sent[id] = r
			lc.nSent++
		}
		lc.mu.Unlock()
		lc.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
		var err error
		if rng.IntN(16) == 0 && len(buf) > 1 {
			// Split a write anywhere, so that frames are sometimes half
			// read when the server stops reading.
			cut := 1 + rng.IntN(len(buf)-1)
			if _, err = lc.nc.Write(buf[:cut]); err == nil {
				time.Sleep(time.Duration(rng.IntN(500)) * time.Microsecond)
				_, err = lc.nc.Write(buf[cut:])
			}
		} else {
			_, err = lc.nc.Write(buf)
		}
		if err != nil {
			// The server closed the connection: expected once it shuts
			// down; the reader reports a close that is not one.
			lc.mu.Lock()
			lc.writeErr = err
			lc.mu.Unlock()
			return
		}
	}
}

// readLoop reads and checks replies until the server closes the connection.
func (lc *loadClient) readLoop() {
	defer close(lc.readerDone)
	stopAt := time.Now().Add(loadHardStop)
	for {
		dl := time.Now().Add(ioTimeout)
		if dl.After(stopAt) {
			dl = stopAt
		}
		lc.nc.SetReadDeadline(dl)
		f, err := readNestFrame(lc.br)
		if err != nil {
			lc.mu.Lock()
			lc.endErr, lc.endPartial = err, f
			lc.mu.Unlock()
			// Like a NestJS client, close our side once the server has
			// closed its own.
			lc.nc.Close()
			return
		}
		lc.check(f)
		if lc.readPause > 0 {
			time.Sleep(lc.readPause)
		}
	}
}

// replyID extracts the id of a reply frame: replies end with ,"id":<id>}.
func replyID(f string) (string, bool) {
	i := strings.LastIndex(f, `"id":`)
	if i < 0 || !strings.HasSuffix(f, "}") {
		return "", false
	}
	return f[i+len(`"id":`) : len(f)-1], true
}

func (lc *loadClient) check(f string) {
	id, ok := replyID(f)
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if !ok {
		lc.problemLocked("reply without an id: %q", clip(f))
		return
	}
	r := lc.sent[id]
	switch {
	case r == nil:
		lc.problemLocked("reply for an id never sent: %q", clip(f))
		return
	case r.final:
		lc.problemLocked("second final reply (or a frame after the final one) for %s: %q", id, clip(f))
		return
	}
	final := false
	switch {
	case f == errReply(shuttingDownErr, id):
		final = true
		lc.nShutdownErrs++
	case r.blob:
		if want := valueReply(lc.blobValue, id); f != want {
			lc.problemLocked("blob reply mismatch for %s: %q", id, clip(f))
		}
		final = true
		lc.nValues++
	case !r.stream:
		if want := valueReply(strconv.Itoa(2*r.n+1), id); f != want {
			lc.problemLocked("reply mismatch\n got: %q\nwant: %q", f, want)
		}
		final = true
		lc.nValues++
	case f == partReply(strconv.Itoa(r.next), id) && r.next <= r.n:
		r.next++
	case f == valueReply(strconv.Itoa(r.next), id) && r.next == r.n:
		r.next++
		final = true
	case f == frame(`{"isDisposed":true,"id":`+id+`}`) && r.next == r.n+1:
		final = true
	default:
		lc.problemLocked("unexpected frame for stream %s of %d (next value %d): %q", id, r.n, r.next, clip(f))
		final = true
	}
	if final {
		r.final = true
		lc.nFinal++
		if r.stream {
			lc.nStreams++
		}
		select {
		case lc.slots <- struct{}{}:
		default:
		}
	}
}

// closedByServer reports whether the reader ended because the server
// closed the connection cleanly between frames.
func (lc *loadClient) closedByServer() error {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	switch {
	case errors.Is(lc.endErr, os.ErrDeadlineExceeded):
		return fmt.Errorf("%s: connection still open %v after the last frame: not closed by the server", lc.name, ioTimeout)
	case !closedErr(lc.endErr):
		return fmt.Errorf("%s: reader ended with %v (partial %q)", lc.name, lc.endErr, clip(lc.endPartial))
	case lc.endPartial != "":
		return fmt.Errorf("%s: connection closed (%v) in the middle of a reply frame, %d bytes into it: %q (write side: %v)",
			lc.name, lc.endErr, len(lc.endPartial), clip(lc.endPartial), lc.writeErr)
	}
	return nil
}

func waitClosed(t *testing.T, what string, ch <-chan struct{}, d time.Duration) bool {
	t.Helper()
	select {
	case <-ch:
		return true
	case <-time.After(d):
		t.Errorf("%s did not end within %v", what, d)
		return false
	}
}

func TestShutdownUnderLoad(t *testing.T) {
	t.Run("drain", func(t *testing.T) { testShutdownUnderLoadDrain(t, 0) })
	// Two of the eight clients ask for 4 KB replies and read them slowly
	// through a small receive buffer, as a client over a slow link would:
	// at the end of the drain the server still has replies queued in its
	// socket when it closes it, with requests it never read in its
	// receive buffer.
	t.Run("drain with slow readers", func(t *testing.T) { testShutdownUnderLoadDrain(t, 2) })
	t.Run("deadline", testShutdownUnderLoadDeadline)
}

// testShutdownUnderLoadDrain: 8 pipelined clients (the last `slow` of them
// slow readers of big replies), Shutdown(10s) in the middle of the load.
func testShutdownUnderLoadDrain(t *testing.T, slow int) {
	leaks := goleak.IgnoreCurrent()
	s, _ := startServer(t, rpc.Config{}, registerLoadHandlers)
	addr := s.Addr().String()

	const conns = 8
	blobValue := strconv.Quote(strings.Repeat("x", 4000))
	clients := make([]*loadClient, conns)
	for i := range clients {
		clients[i] = newLoadClient(t, addr, "c"+strconv.Itoa(i))
		if i >= conns-slow {
			lc := clients[i]
			lc.name = "slow" + strconv.Itoa(i)
			lc.blob, lc.blobValue, lc.readPause = 4000, blobValue, 200*time.Microsecond
			if err := lc.nc.(*net.TCPConn).SetReadBuffer(8 << 10); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, lc := range clients {
		go lc.readLoop()
		go lc.writeLoop(uint64(i) + 1)
	}
	time.Sleep(300 * time.Millisecond)
	before := s.GetMetrics()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t0 := time.Now()
	err := s.Shutdown(ctx)
	took := time.Since(t0)
	if err != nil {
		t.Errorf("Shutdown under load = %v, want nil", err)
	}

	for _, lc := range clients {
		waitClosed(t, lc.name+" reader", lc.readerDone, 2*ioTimeout)
		waitClosed(t, lc.name+" writer", lc.writerDone, 2*ioTimeout)
	}
	m := s.GetMetrics()

	var sent, answered, values, shutdownErrs, streams, resets int
	for _, lc := range clients {
		if err := lc.closedByServer(); err != nil {
			t.Error(err)
		}
		lc.mu.Lock()
		for _, p := range lc.problems {
			t.Error(p)
		}
		sent += lc.nSent
		answered += lc.nFinal
		values += lc.nValues
		shutdownErrs += lc.nShutdownErrs
		streams += lc.nStreams
		// Linux reports a reset once: to the reader, or to a write.
		if errors.Is(lc.endErr, syscall.ECONNRESET) || errors.Is(lc.writeErr, syscall.ECONNRESET) {
			resets++
		}
		lc.mu.Unlock()
		lc.nc.Close()
	}
	read := int(m.Requests)
	t.Logf("before Shutdown: %d requests served in ~300ms; Shutdown took %v", before.Requests, took)
	t.Logf("sent %d; the server read %d, of which %d were answered (%d values, %d streams, %d shutting-down errors) and %d lost; sent but never read (the client's to retry): %d; %d of %d connections ended by a reset rather than a FIN",
		sent, read, answered, values, streams, shutdownErrs, read-answered, sent-read, resets, conns)
	t.Logf("server: requests %d, handed_off %d, errors %d %+v", m.Requests, m.HandedOff, m.Errors, m.ErrorByKind)

	if uint64(answered) != m.Requests {
		t.Errorf("clients got %d final replies, but the server read and handled %d requests: every request read must be answered exactly once", answered, m.Requests)
	}
	if answered == 0 || m.Requests == 0 {
		t.Errorf("no request answered: the load did not run")
	}
	e := m.ErrorByKind
	if e.NoHandler != 0 || e.RateLimited != 0 || e.BadFrame != 0 || e.Framing != 0 || e.Timeout != 0 || m.Events != 0 {
		t.Errorf("unexpected counters: no_handler %d, rate_limited %d, bad_frame %d, framing %d, timeout %d, events %d",
			e.NoHandler, e.RateLimited, e.BadFrame, e.Framing, e.Timeout, m.Events)
	}
	if shutdownErrs != 0 || e.ShuttingDown != 0 || e.Canceled != 0 {
		t.Errorf("a graceful Shutdown that returned nil cancelled handlers: %d shutting-down replies, counters shutting_down %d canceled %d",
			shutdownErrs, e.ShuttingDown, e.Canceled)
	}
	if m.ActiveConnections != 0 || m.InFlight != 0 {
		t.Errorf("after Shutdown: active_connections %d, in_flight %d", m.ActiveConnections, m.InFlight)
	}
	if nc, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		nc.Close()
		t.Error("the server still accepts connections after Shutdown")
	}
	goleak.VerifyNone(t, leaks)
}

// testShutdownUnderLoadDeadline: Shutdown's context ends while a handler
// blocks until its context is cancelled.
func testShutdownUnderLoadDeadline(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	started := make(chan struct{})
	handlerErr := make(chan error, 1)
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		registerLoadHandlers(s)
		s.Handle("block", rpc.ContextFunc(func(ctx context.Context, _ json.RawMessage) (any, error) {
			close(started)
			<-ctx.Done()
			handlerErr <- ctx.Err()
			return nil, ctx.Err()
		}))
	})
	addr := s.Addr().String()

	const conns = 4
	clients := make([]*loadClient, conns)
	for i := range clients {
		clients[i] = newLoadClient(t, addr, "d"+strconv.Itoa(i))
	}
	blocker := dial(t, s)
	for i, lc := range clients {
		go lc.readLoop()
		go lc.writeLoop(uint64(i) + 100)
	}
	time.Sleep(150 * time.Millisecond)
	blocker.write(reqFrame(`"block"`, `null`, `"blocked"`))
	select {
	case <-started:
	case <-time.After(ioTimeout):
		t.Fatal("the blocking handler did not start")
	}
	time.Sleep(50 * time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err := s.Shutdown(ctx)
	took := time.Since(t0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a handler blocked past its context = %v, want context.DeadlineExceeded", err)
	}
	if took > 5*time.Second {
		t.Errorf("Shutdown took %v with a 300ms context", took)
	}
	select {
	case err := <-handlerErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("blocked handler's context ended with %v, want context.Canceled", err)
		}
	case <-time.After(ioTimeout):
		t.Error("the blocked handler's context was not cancelled by the forced shutdown")
	}

	// The blocked caller gets the shutting-down error if the connection
	// was still writable, and then (or only) sees the connection close.
	blocker.nc.SetReadDeadline(time.Now().Add(closeTimeout))
	got, rerr := readNestFrame(blocker.br)
	blockerAnswered := 0
	switch {
	case rerr == nil:
		if want := errReply(shuttingDownErr, `"blocked"`); got != want {
			t.Errorf("blocked caller got %q, want %q or a close", got, want)
		}
		blockerAnswered = 1
		blocker.expectClosed()
	case errors.Is(rerr, os.ErrDeadlineExceeded):
		t.Errorf("blocked caller's connection neither answered nor closed within %v", closeTimeout)
	case !closedErr(rerr) || got != "":
		t.Errorf("blocked caller: read ended with %v after %q", rerr, got)
	}

	for _, lc := range clients {
		waitClosed(t, lc.name+" reader", lc.readerDone, 2*ioTimeout)
		waitClosed(t, lc.name+" writer", lc.writerDone, 2*ioTimeout)
	}
	// Shutdown returned without waiting for the connections: wait for them.
	waitMetric(t, s, "active_connections", 0, func(m rpc.Metrics) int64 { return m.ActiveConnections })
	waitMetric(t, s, "in_flight", 0, func(m rpc.Metrics) int64 { return m.InFlight })
	m := s.GetMetrics()

	var sent, answered, shutdownErrs int
	for _, lc := range clients {
		lc.mu.Lock()
		// A forced close may cut a reply frame; anything else is a problem.
		if !closedErr(lc.endErr) {
			t.Errorf("%s: reader ended with %v, want the server's close", lc.name, lc.endErr)
		}
		for _, p := range lc.problems {
			t.Error(p)
		}
		sent += lc.nSent
		answered += lc.nFinal
		shutdownErrs += lc.nShutdownErrs
		lc.mu.Unlock()
		lc.nc.Close()
	}
	t.Logf("forced: Shutdown returned %v after %v; sent %d, answered %d (%d shutting-down errors), blocked caller answered: %v; server requests %d, shutting_down %d, canceled %d",
		err, took, sent, answered, shutdownErrs, blockerAnswered == 1, m.Requests, m.ErrorByKind.ShuttingDown, m.ErrorByKind.Canceled)
	if uint64(answered+blockerAnswered) > m.Requests {
		t.Errorf("clients got %d final replies, more than the %d requests the server handled", answered+blockerAnswered, m.Requests)
	}
	if e := m.ErrorByKind; e.NoHandler != 0 || e.RateLimited != 0 || e.BadFrame != 0 {
		t.Errorf("unexpected counters: %+v", e)
	}
	goleak.VerifyNone(t, leaks)
}

// TestShutdownWaitsWithoutSpinning: a reader waiting for a MaxInFlight
// slot when Shutdown begins waits quietly for the handler to finish. It
// used to spin on its socket until then, a whole core for up to Timeout.
// Not parallel: it reads the process's CPU time.
func TestShutdownWaitsWithoutSpinning(t *testing.T) {
	if _, ok := processCPU(); !ok {
		if os.Getenv("CI") == "true" {
			t.Fatal("process CPU time cannot be read here")
		}
		t.Skip("process CPU time cannot be read here")
	}
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	s, stop := startServer(t, rpc.Config{MaxInFlight: 1}, func(s *rpc.Server) {
		s.Handle("slow", rpc.Func(func(json.RawMessage) (any, error) {
			started <- struct{}{}
			<-release // ignores its context
			return "done", nil
		}))
	})
	c := dial(t, s)
	c.write(reqFrame(`"slow"`, "null", "1"))
	<-started
	time.Sleep(100 * time.Millisecond) // handed off; the reader waits for a slot
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	time.Sleep(50 * time.Millisecond) // Shutdown waits for the handler
	cpu0, _ := processCPU()
	wall0 := time.Now()
	time.Sleep(500 * time.Millisecond)
	cpu1, _ := processCPU()
	used, wall := cpu1-cpu0, time.Since(wall0)
	close(release)
	c.expectFrame(valueReply(`"done"`, "1"))
	c.close() // the server's lingering close ends at our EOF
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	t.Logf("%v of CPU in %v while Shutdown waited for one handler", used, wall)
	if used > wall/4 {
		t.Errorf("the server used %v of CPU in %v while waiting for one blocked handler: a busy loop", used, wall)
	}
}
