package rpc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
	"github.com/msgpattern/msgpattern/wire"
)

// TestClientServerKilledMidCall: when the connection dies, every pending
// call fails at once with ErrConnectionLost, and the next call reconnects.
func TestClientServerKilledMidCall(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	first := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1}, discardLogger())
	first.Handle("sleep", rpc.ContextFunc(func(ctx context.Context, _ json.RawMessage) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	go first.Serve(ln)

	c := newTestClient(t, addr, rpc.WithReconnectBackoff(time.Millisecond, 20*time.Millisecond))
	errs := make(chan error, 10)
	for range 10 {
		go func() { errs <- c.Send(context.Background(), "sleep", nil, nil) }()
	}
	waitFor(t, "10 calls pending", func() bool { return c.Metrics().InFlight == 10 })
	first.Close() // kill: connections dropped, nothing answered
	for range 10 {
		select {
		case err := <-errs:
			if !errors.Is(err, rpc.ErrConnectionLost) {
				t.Errorf("pending call: got %v, want ErrConnectionLost", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a pending call hung after the server died")
		}
	}

	// A new server on the same address: the next call reconnects.
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("cannot rebind %s: %v", addr, err)
	}
	second := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1}, discardLogger())
	second.Handle("sleep", constant("awake"))
	go second.Serve(ln2)
	t.Cleanup(func() { second.Close() })
	var got string
	if err := c.Send(context.Background(), "sleep", nil, &got); err != nil || got != "awake" {
		t.Fatalf("call after the restart: %q, %v", got, err)
	}
	if m := c.Metrics(); m.Reconnects != 1 {
		t.Errorf("reconnects = %d, want 1", m.Reconnects)
	}
}

// TestClientIdempotentRetry: an idempotent call whose connection dies is
// resent on a new connection; a plain call is not.
func TestClientIdempotentRetry(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	// A fake server that drops the first connection after reading one
	// request, then answers normally.
	fake := startFakeServer(t, func(conn int, req wire.Packet, w func(string)) bool {
		calls.Add(1)
		if conn == 1 {
			return false // hang up without answering
		}
		w(string(wire.AppendValue(nil, wire.NestJS, []byte(`"ok"`), req.ID, true)))
		return true
	})
	c := newTestClient(t, fake.addr, rpc.WithReconnectBackoff(time.Millisecond, 5*time.Millisecond))
	var got string
	if err := c.Send(context.Background(), "x", nil, &got, rpc.Idempotent()); err != nil || got != "ok" {
		t.Fatalf("idempotent call = %q, %v; want it resent and answered", got, err)
	}
	if calls.Load() != 2 || c.Metrics().Retries != 1 {
		t.Errorf("server saw %d requests, client retried %d times; want 2 and 1", calls.Load(), c.Metrics().Retries)
	}
	fake.dropNext.Store(true)
	if err := c.Send(context.Background(), "x", nil, &got); !errors.Is(err, rpc.ErrConnectionLost) {
		t.Errorf("non-idempotent call on a dying connection: %v, want ErrConnectionLost", err)
	}
}

// TestClientHalfOpenDetected: traffic silently dropped (a dead path) is
// detected by heartbeats within HeartbeatTimeout; pending calls fail.
func TestClientHalfOpenDetected(t *testing.T) {
	t.Parallel()
	srv, _ := clientTestServer(t, rpc.Config{})
	px := startStallingProxy(t, srv.Addr().String())
	c := newTestClient(t, px.addr, rpc.WithHeartbeat(50*time.Millisecond, 300*time.Millisecond))
	if err := c.Send(context.Background(), "sum", []int{1}, nil); err != nil {
		t.Fatal(err)
	}
	px.stall()
	begin := time.Now()
	err := c.Send(context.Background(), "sleep", 60_000, nil)
	if !errors.Is(err, rpc.ErrConnectionLost) || !errors.Is(err, rpc.ErrHeartbeatTimeout) {
		t.Fatalf("call over a dead path: %v; want ErrConnectionLost caused by ErrHeartbeatTimeout", err)
	}
	t.Logf("half-open connection detected after %v (interval 50ms, timeout 300ms)", time.Since(begin))
	if d := time.Since(begin); d > 3*time.Second {
		t.Errorf("detection took %v", d)
	}
	if m := c.Metrics(); m.HeartbeatFailures != 1 || m.Heartbeats == 0 {
		t.Errorf("heartbeats %d, failures %d", m.Heartbeats, m.HeartbeatFailures)
	}
}

// TestClientHeartbeatAgainstNestJS: a server without heartbeats (NestJS
// answers the ping with its no-handler error) is pinged once, never again,
// and the connection lives on.
func TestClientHeartbeatAgainstNestJS(t *testing.T) {
	t.Parallel()
	var pings atomic.Int32
	fake := startFakeServer(t, func(_ int, req wire.Packet, w func(string)) bool {
		if strings.Contains(string(req.Pattern), rpc.HeartbeatPattern) {
			pings.Add(1)
		}
		w(string(wire.AppendNoHandler(nil, wire.NestJS, req.ID)))
		return true
	})
	// The ping's answer must come within the timeout: 1 s, not 100 ms, which
	// a loaded machine can take to run the fake server's goroutine.
	c := newTestClient(t, fake.addr, rpc.WithHeartbeat(20*time.Millisecond, time.Second))
	err := c.Send(context.Background(), "x", nil, nil)
	if !errors.Is(err, rpc.ErrNoHandler) {
		t.Fatalf("got %v", err)
	}
	time.Sleep(2500 * time.Millisecond) // many intervals, two timeouts
	if pings.Load() != 1 {
		t.Errorf("server got %d pings; want exactly 1 (then the client knows)", pings.Load())
	}
	if err := c.Send(context.Background(), "x", nil, nil); !errors.Is(err, rpc.ErrNoHandler) {
		t.Errorf("the connection must be alive: %v", err)
	}
	if m := c.Metrics(); m.Reconnects != 0 || m.HeartbeatFailures != 0 || m.InFlight != 0 {
		t.Errorf("reconnects %d, heartbeat failures %d, in flight %d; want 0, 0, 0 (pings are not calls)", m.Reconnects, m.HeartbeatFailures, m.InFlight)
	}
}

// TestClientMaxFrameSize: a reply longer than the client's limit closes the
// connection and fails the call with a clear cause.
func TestClientMaxFrameSize(t *testing.T) {
	t.Parallel()
	srv, _ := clientTestServer(t, rpc.Config{})
	c := newTestClient(t, srv.Addr().String(), rpc.WithMaxFrameSize(100))
	if err := c.Send(context.Background(), "echo", "short", nil); err != nil {
		t.Fatal(err)
	}
	err := c.Send(context.Background(), "echo", strings.Repeat("x", 200), nil)
	if !errors.Is(err, rpc.ErrConnectionLost) || !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Errorf("oversized reply: %v; want ErrConnectionLost caused by wire.ErrFrameTooLarge", err)
	}
}

// fakeServer speaks raw frames; handle answers one request through w and
// returns false to hang up.
type fakeServer struct {
	addr     string
	dropNext atomic.Bool
}

func startFakeServer(t *testing.T, handle func(conn int, req wire.Packet, w func(string)) bool) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeServer{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 1; ; n++ {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, nc)
			mu.Unlock()
			wg.Add(1)
			go func(n int) {
				defer wg.Done()
				defer nc.Close()
				br := bufio.NewReader(nc)
				var sc wire.FrameScanner
				var buf []byte
				tmp := make([]byte, 4096)
				for {
					f, err := sc.Scan(buf)
					if err != nil {
						return
					}
					if f.Len == 0 {
						k, err := br.Read(tmp)
						if err != nil {
							return
						}
						buf = append(buf, tmp[:k]...)
						continue
					}
					p, _ := wire.ParseRequest(f.Body, 0)
					buf = buf[f.Len:]
					if fs.dropNext.CompareAndSwap(true, false) {
						return // hang up on this request
					}
					if !handle(n, p, func(s string) { nc.Write([]byte(s)) }) {
						return
					}
				}
			}(n)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return fs
}

// TestClientTrickledReplyFoundStuck: a server that starts a reply and then
// trickles it, a byte every 50 ms, answers no ping: past a second, part of
// a frame counts as life only at DefaultMinFrameRate, so heartbeats find
// the connection stuck, and the client redials. Every byte used to count:
// the connection was never declared dead, and every call on it timed out.
// A burst first (100 KiB) used to buy the trickle 200 s: averaged over the
// frame's life, bytes ahead of the rate counted however far ahead; now
// they earn at most the heartbeat timeout of credit, as on the server.
func TestClientTrickledReplyFoundStuck(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		burst int
	}{
		{"trickle", 0},
		{"burst, then trickle", 100 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var trickling sync.Once
			stop := make(chan struct{})
			var trickler sync.WaitGroup
			fs := startFakeServer(t, func(conn int, req wire.Packet, w func(string)) bool {
				if conn > 1 { // the redial finds a working server
					w(rawFrame(`{"response":"ok","isDisposed":true,"id":` + string(req.ID) + `}`))
					return true
				}
				trickling.Do(func() {
					trickler.Go(func() {
						w(`16000000#{"response":"` + strings.Repeat("b", tt.burst))
						for {
							select {
							case <-stop:
								return
							case <-time.After(50 * time.Millisecond):
								w("x")
							}
						}
					})
				})
				return true
			})
			t.Cleanup(func() { close(stop); trickler.Wait() })
			c := newTestClient(t, fs.addr, rpc.WithHeartbeat(50*time.Millisecond, 300*time.Millisecond))
			var timeouts, ok int
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && ok == 0; {
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				err := c.Send(ctx, "x", nil, nil)
				cancel()
				switch {
				case errors.Is(err, context.DeadlineExceeded):
					timeouts++
				case err == nil:
					ok++
				}
			}
			m := c.Metrics()
			t.Logf("%d calls timed out, then %d answered; heartbeat failures %d", timeouts, ok, m.HeartbeatFailures)
			if m.HeartbeatFailures == 0 || ok == 0 {
				t.Errorf("a reply trickled for 5 s: %d calls timed out, none answered, heartbeat failures %d", timeouts, m.HeartbeatFailures)
			}
		})
	}
}
