package rpc

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// gateConn holds each Write, while gated, until the test releases it,
// telling the test first (entered): the test decides when a flush's
// write ends, and so what has been appended by then.
type gateConn struct {
	net.Conn
	gated   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (c *gateConn) Write(b []byte) (int, error) {
	if c.gated.Load() {
		c.entered <- struct{}{}
		<-c.release
	}
	return c.Conn.Write(b)
}

type gateListener struct {
	net.Listener
	conns chan *gateConn
}

func (l *gateListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	gc := &gateConn{Conn: nc, entered: make(chan struct{}), release: make(chan struct{})}
	l.conns <- gc
	return gc, nil
}

// TestReaderFlushLeavesStreamToOthers: the reader flushes before it reads
// (flushBeforeRead). When a handed-off stream appends a value while that
// write is in progress, the flush used to go on writing, and go on as long
// as the stream kept appending during each write: the connection was not
// read meanwhile. A healthy peer pinging all along got no pong (docs: "a
// slow handler never holds up the others"), and when the stream ended
// the reader's heartbeat deadline, counted from the last bytes it read,
// had passed: the peer was closed as silent (heartbeats.failed).
//
// The interleaving is forced: every write waits for the test, which has
// the stream append one value during each of them.
func TestReaderFlushLeavesStreamToOthers(t *testing.T) {
	const hbTimeout = 200 * time.Millisecond
	g := startGatedStream(t, &Config{HeartbeatTimeout: hbTimeout, RateLimitPerSec: -1})
	s, gc, step, sent, send, readErr := g.s, g.gc, g.step, g.sent, g.send, g.readErr
	// The id of every pong, as it comes.
	pongs := make(chan string, 100)
	go func() {
		for b := range g.frames {
			if strings.Contains(b, `"pong"`) {
				i := strings.Index(b, `"id":"`) + len(`"id":"`)
				pongs <- b[i : i+strings.IndexByte(b[i:], '"')]
			}
		}
	}()
	wantPong := func(id string) {
		t.Helper()
		select {
		case got := <-pongs:
			if got != id {
				t.Fatalf("pong for %q, want %q", got, id)
			}
		case err := <-readErr:
			t.Fatalf("waiting for the pong of %s: %v", id, err)
		case <-time.After(5 * time.Second):
			t.Fatalf("no pong for %s", id)
		}
	}

	send(HeartbeatPattern, "p0") // the peer speaks heartbeats from now on
	wantPong("p0")
	send("stream", "s")
	g.waitHandedOff()

	// A new reader holds the role. Its flush of a pong is held at the
	// gate while the stream appends a value; then each write is held so.
	gc.gated.Store(true)
	send(HeartbeatPattern, "p1")
	<-gc.entered // the reader writes p1's pong: nobody else has anything to write

	// The peer keeps pinging, a round every 20ms, for 1s: five times
	// HeartbeatTimeout. Its pings are to be read and answered meanwhile.
	var pinged, answered int
	start := time.Now()
	for time.Since(start) < 5*hbTimeout {
		step <- struct{}{} // the stream appends a value during the write
		<-sent
		pinged++
		send(HeartbeatPattern, "q"+strconv.Itoa(pinged))
		time.Sleep(20 * time.Millisecond)
		gc.release <- struct{}{}
		<-gc.entered // the next write: the value, and what else is queued
	drain:
		for {
			select {
			case id := <-pongs:
				if id != "p1" {
					answered++
				}
			default:
				break drain
			}
		}
	}
	gc.gated.Store(false)
	close(step)
	gc.release <- struct{}{}

	if answered == 0 {
		t.Errorf("%d pings sent over %v while a handed-off stream was being written: none answered until it ended (the reader was writing the stream's values, not reading)", pinged, time.Since(start).Round(time.Millisecond))
	}
	// The stream is over: the peer, which pinged every 20ms, is still
	// connected, and a ping is answered.
	for answered < pinged {
		select {
		case id := <-pongs:
			if id != "p1" {
				answered++
			}
		case err := <-readErr:
			t.Fatalf("connection closed after the stream, with %d of %d pings answered (heartbeats.failed %d): %v",
				answered, pinged, s.stats.heartbeatFailed.Load(), err)
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d pings answered", answered, pinged)
		}
	}
	send(HeartbeatPattern, "last")
	wantPong("last")
	if n := s.stats.heartbeatFailed.Load(); n != 0 {
		t.Errorf("heartbeats.failed = %d, want 0", n)
	}
}

// gatedStream is a server serving through a gateListener, whose "stream"
// handler sends one value (its count, from 0) each time step is sent,
// then on sent; and a peer connected to it, whose every reply frame's body
// goes to frames until the connection ends (readErr, then frames closes).
type gatedStream struct {
	t       *testing.T
	s       *Server
	gc      *gateConn
	a       net.Conn
	step    chan struct{}
	sent    chan struct{}
	frames  chan string
	readErr chan error
}

func startGatedStream(t *testing.T, cfg *Config) *gatedStream {
	t.Helper()
	g := &gatedStream{t: t, s: NewServer(cfg, discardLog()), step: make(chan struct{}), sent: make(chan struct{}),
		frames: make(chan string, 1000), readErr: make(chan error, 1)}
	g.s.Handle("stream", HandlerFunc(func(_ context.Context, w ResponseWriter, _ *Request) error {
		i := 0
		for range g.step {
			if err := w.Send(i); err != nil {
				return err
			}
			i++
			g.sent <- struct{}{}
		}
		return nil
	}))
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &gateListener{Listener: inner, conns: make(chan *gateConn, 1)}
	go g.s.Serve(ln)
	t.Cleanup(func() { g.s.Close() })
	if g.a, err = net.Dial("tcp", inner.Addr().String()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.a.Close() })
	g.gc = <-ln.conns
	go func() {
		defer close(g.frames)
		br := bufio.NewReader(g.a)
		for {
			n, err := br.ReadString('#')
			if err != nil {
				g.readErr <- err
				return
			}
			size, _ := strconv.Atoi(strings.TrimSuffix(n, "#"))
			body := make([]byte, size)
			if _, err := io.ReadFull(br, body); err != nil {
				g.readErr <- err
				return
			}
			g.frames <- string(body)
		}
	}()
	return g
}

// send writes a request for pattern with id.
func (g *gatedStream) send(pattern, id string) {
	body := `{"pattern":"` + pattern + `","data":null,"id":"` + id + `"}`
	if _, err := io.WriteString(g.a, strconv.Itoa(len(body))+"#"+body); err != nil {
		g.t.Fatal(err)
	}
}

// waitHandedOff waits for the monitor to hand a handler off.
func (g *gatedStream) waitHandedOff() {
	for deadline := time.Now().Add(5 * time.Second); g.s.stats.handedOff.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			g.t.Fatal("the stream was never handed off")
		}
	}
}
