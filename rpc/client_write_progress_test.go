package rpc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// listenSlowReader starts a raw NestJS-framed server that reads its
// connections steadily but slowly (at most chunk bytes every pause) and
// answers every frame that has an id with {"response":"ok"}. It records
// when it last received bytes.
func listenSlowReader(t *testing.T, chunk int, pause time.Duration) net.Listener {
	return listenSlowReaderHolding(t, chunk, pause, false)
}

// listenSlowReaderHolding is listenSlowReader; with hold, the frames with
// an id are answered only once an event (a frame without id) has been
// read whole.
func listenSlowReaderHolding(t *testing.T, chunk int, pause time.Duration, hold bool) net.Listener {
	return serveRawConns(t, chunk, func(nc net.Conn, _ <-chan struct{}) {
		defer nc.Close()
		var held []json.RawMessage
		reply := func(id json.RawMessage) bool {
			rep := `{"id":` + string(id) + `,"response":"ok","isDisposed":true}`
			_, err := nc.Write([]byte(strconv.Itoa(len(rep)) + "#" + rep))
			return err == nil
		}
		eachNestFrame(nc, chunk, pause, func(body []byte) bool {
			var req struct {
				ID json.RawMessage `json:"id"`
			}
			if json.Unmarshal(body, &req) != nil {
				return true
			}
			switch {
			case req.ID != nil && hold:
				held = append(held, req.ID)
			case req.ID != nil:
				return reply(req.ID)
			default: // an event: answer the held calls
				for _, id := range held {
					if !reply(id) {
						return false
					}
				}
				held = nil
			}
			return true
		})
	})
}

// stallConn records the longest time its reader spent outside Read
// (parsing, answering, sleeping, or starved by the machine): the time
// the server's side of the test, not the client, held things up.
type stallConn struct {
	net.Conn
	mu       sync.Mutex
	inRead   bool
	returned time.Time
	maxStall time.Duration
}

func (s *stallConn) Read(p []byte) (int, error) {
	s.mu.Lock()
	if !s.returned.IsZero() {
		s.maxStall = max(s.maxStall, time.Since(s.returned))
	}
	s.inRead = true
	s.mu.Unlock()
	n, err := s.Conn.Read(p)
	s.mu.Lock()
	s.inRead, s.returned = false, time.Now()
	s.mu.Unlock()
	return n, err
}

// stall is the longest time outside Read so far, the one in progress
// included.
func (s *stallConn) stall() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.inRead && !s.returned.IsZero() {
		return max(s.maxStall, time.Since(s.returned))
	}
	return s.maxStall
}

// TestHeartbeatSparesBusyUpload: a server that reads a big request
// steadily (about 2.5 MB/s here) is healthy, but the client's ping is
// queued behind the request and cannot be answered before the request has
// been read. The heartbeat timeout was measured from the ping's queueing
// and the last byte read only, not from the write progress that shows the
// server alive, so the connection was killed with ErrHeartbeatTimeout while
// bytes are moving (in production: an upload or a burst of Emits longer
// than 30 s on a slow link). A round in which the machine kept the server
// from reading, or from answering, for a third of the heartbeat timeout
// proves nothing (the server was not steady) and is run again, at most
// five rounds. The server finds a request's id without decoding its
// 14 MiB (under -race on a loaded machine that alone took seconds).
func TestHeartbeatSparesBusyUpload(t *testing.T) {
	t.Parallel()
	const hbTimeout = 3 * time.Second
	for round := 1; ; round++ {
		conns := make(chan *stallConn, 4)
		ln := serveRawConns(t, 64<<10, func(nc net.Conn, _ <-chan struct{}) {
			defer nc.Close()
			sc := &stallConn{Conn: nc}
			conns <- sc
			eachNestFrame(sc, 64<<10, 25*time.Millisecond, func(body []byte) bool {
				i := bytes.LastIndex(body, []byte(`,"id":`))
				if i < 0 || body[len(body)-1] != '}' {
					return true // an event
				}
				rep := `{"id":` + string(body[i+6:len(body)-1]) + `,"response":"ok","isDisposed":true}`
				_, err := nc.Write([]byte(strconv.Itoa(len(rep)) + "#" + rep))
				return err == nil
			})
		})
		c := newTestClient(t, ln.Addr().String(), rpc.WithHeartbeat(200*time.Millisecond, hbTimeout))
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		start := time.Now()
		var out string
		err := c.Send(ctx, "upload", strings.Repeat("x", 14<<20), &out)
		cancel()
		var stall time.Duration
		for len(conns) > 0 {
			stall = max(stall, (<-conns).stall())
		}
		c.Close()
		if err != nil && stall >= hbTimeout/3 {
			t.Logf("round %d: the upload failed (%v), but the machine kept the server from reading or answering for %v", round, err, stall)
			if round == 5 {
				t.Fatal("five rounds in which the machine starved the server: the heartbeat's rule was never tested")
			}
			continue
		}
		if err != nil {
			t.Fatalf("a steadily read 14 MiB upload (the server never held up for more than %v) failed after %v: %v (heartbeats sent %d, failures %d)",
				stall, time.Since(start).Round(time.Millisecond), err, c.Metrics().Heartbeats, c.Metrics().HeartbeatFailures)
		}
		if out != "ok" {
			t.Fatalf("reply %q, want ok", out)
		}
		return
	}
}

// TestEmitBesideOneCallSparesIt: Emit's doc says that with calls in
// flight it returns once the event is queued for the connection's writer;
// only alone on its connection does it write the event itself under its
// context. flushEvent took "alone" as inflight <= 1, but an event is not
// counted in inflight: with one call in flight the Emit wrote its big
// event itself, its context's end cut the write short, and the
// connection failed, taking the healthy in-flight call with it
// (ErrConnectionLost, "write was cut short by its caller's context"). A
// lone call's big request is handed to the writer precisely so that its
// context cannot kill the calls behind it.
func TestEmitBesideOneCallSparesIt(t *testing.T) {
	t.Parallel()
	// Reads about 2.6 MB/s; answers the call once the event is read.
	ln := listenSlowReaderHolding(t, 64<<10, 25*time.Millisecond, true)
	c := newTestClient(t, ln.Addr().String(), rpc.WithHeartbeat(-1, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errB := make(chan error, 1)
	go func() {
		var out string
		errB <- c.Send(ctx, "b", nil, &out)
	}()
	waitFor(t, "call B in flight", func() bool { return c.Metrics().InFlight == 1 })
	ectx, ecancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer ecancel()
	emitErr := c.Emit(ectx, "big", strings.Repeat("x", 6<<20))
	t.Logf("Emit beside one call in flight: %v", emitErr)
	select {
	case err := <-errB:
		if err != nil {
			t.Fatalf("call B, in flight on a healthy connection, failed because an Emit's context ended while it wrote its event: %v (Emit: %v)", err, emitErr)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("call B never answered")
	}
}

// listenReadUntilEvent accepts connections, reads nothing until gate is
// closed, then reads NestJS frames until it has read a whole frame whose
// pattern is "evt" (it then closes seen and reads no more). The test has
// one connection.
func listenReadUntilEvent(t *testing.T, gate <-chan struct{}) (net.Listener, <-chan struct{}) {
	seen := make(chan struct{})
	ln := serveRawConns(t, 64<<10, func(nc net.Conn, done <-chan struct{}) {
		select {
		case <-gate:
		case <-done:
			return
		}
		eachNestFrame(nc, 64<<10, 0, func(body []byte) bool {
			var req struct {
				Pattern string `json:"pattern"`
			}
			json.Unmarshal(body, &req)
			if req.Pattern == "evt" {
				close(seen)
				return false // reads no more; the connection stays open
			}
			return true
		})
	})
	return ln, seen
}

// TestEmitErrorMeansNotSent: Emit documents "An error means the
// event was not sent", its one exception being its own context ending
// while it waits. A lone Emit that finds the writer goroutine busy waits
// (waitWritten) for the write of the buffer holding its event; when that
// write fails after the event's bytes left (another request queued
// behind the event stalls), the Emit returned the write's failure
// (ErrConnectionLost) although the server has read the whole event. A
// caller that retries on error, as the doc invites, delivers it twice.
// (Here A, E and B are all lone Emits: no call is in flight.)
func TestEmitErrorMeansNotSent(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	ln, seen := listenReadUntilEvent(t, gate)
	c := newTestClient(t, ln.Addr().String(), rpc.WithHeartbeat(-1, 0), rpc.WithWriteTimeout(4*time.Second),
		rpc.WithEagerConnect())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 3)
	// A: a big event, written by its Emit; the server reads nothing yet,
	// so the write waits. No call is ever in flight: every Emit is alone.
	go func() { done <- c.Emit(ctx, "a", strings.Repeat("a", 6<<20)) }()
	waitFor(t, "A's write blocked", func() bool {
		q := rpc.ClientQueuedForTest(c)
		if q == 0 {
			return false
		}
		time.Sleep(300 * time.Millisecond)
		return rpc.ClientQueuedForTest(c) == q
	})
	q := rpc.ClientQueuedForTest(c)
	// E: a small event, behind A's write: its Emit waits for the write.
	emitErr := make(chan error, 1)
	go func() { emitErr <- c.Emit(context.Background(), "evt", "e") }()
	waitFor(t, "E queued behind A", func() bool { return rpc.ClientQueuedForTest(c) > q })
	q = rpc.ClientQueuedForTest(c)
	// B: a big event queued behind E, which the server will not read.
	go func() { done <- c.Emit(ctx, "b", strings.Repeat("b", 6<<20)) }()
	waitFor(t, "B queued behind E", func() bool { return rpc.ClientQueuedForTest(c) > q+(1<<20) })
	close(gate)
	var err error
	select {
	case err = <-emitErr:
	case <-time.After(40 * time.Second):
		t.Fatal("Emit hung")
	}
	if err == nil {
		return // written
	}
	select {
	case <-seen:
		t.Fatalf("Emit returned %v, yet the server read the whole event: an error is documented to mean the event was not sent", err)
	case <-time.After(2 * time.Second):
	}
}
