package rpc_test

// Concurrency: out-of-order replies on one connection, many clients at
// once, cancellation on disconnect, graceful shutdown.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestPipelinedSlowThenFast: a slow request and a fast one pipelined on
// one connection; the fast reply comes first. The slow handler waits until
// the client has the fast reply (or a generous timeout), so the order is
// deterministic when the server is right and no timing is assumed.
func TestPipelinedSlowThenFast(t *testing.T) {
	gate := make(chan struct{})
	var gateOnce sync.Once
	openGate := func() { gateOnce.Do(func() { close(gate) }) }
	t.Cleanup(openGate)
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		registerProbe(s)
		s.Handle("gated", rpc.ContextFunc(func(ctx context.Context, data json.RawMessage) (any, error) {
			select {
			case <-gate:
			case <-time.After(ioTimeout):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return "slow:" + string(data), nil
		}))
	})
	for _, tc := range []struct{ name, slow, slowReply string }{
		{"gated handler", reqFrame(`"gated"`, `1`, `"id-slow"`), valueReply(`"slow:1"`, `"id-slow"`)},
		{"probe slow handler", reqFrame(`"slow"`, `"A"`, `"id-slow"`), valueReply(`"slow:A"`, `"id-slow"`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, s)
			c.write(tc.slow + reqFrame(`"sum"`, `[5,5]`, `"id-fast"`))
			first := c.readFrame()
			openGate()
			second := c.readFrame()
			if want := valueReply(`10`, `"id-fast"`); first != want {
				t.Errorf("first reply %q, want the fast one %q", first, want)
			}
			if second != tc.slowReply {
				t.Errorf("second reply %q, want %q", second, tc.slowReply)
			}
		})
	}
}

// TestConcurrentClients: 200 goroutines × 50 requests over 8 connections;
// every reply reaches its caller, matched by id. Run with -race.
func TestConcurrentClients(t *testing.T) {
	const (
		conns      = 8
		goroutines = 200
		perG       = 50
	)
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) { registerProbe(s) })

	type pending struct {
		mu      sync.Mutex
		waiters map[string]chan string
	}
	type muxConn struct {
		c       *client
		wmu     sync.Mutex
		pending pending
		done    chan struct{}
	}
	mcs := make([]*muxConn, conns)
	for i := range mcs {
		mc := &muxConn{c: dial(t, s), done: make(chan struct{})}
		mc.pending.waiters = map[string]chan string{}
		mcs[i] = mc
		go func() {
			defer close(mc.done)
			for {
				// The only reader of this connection.
				f, err := readNestFrame(mc.c.br)
				if err != nil {
					mc.pending.mu.Lock()
					for id, ch := range mc.pending.waiters {
						ch <- "ERROR " + err.Error()
						delete(mc.pending.waiters, id)
					}
					mc.pending.mu.Unlock()
					return
				}
				var r struct {
					ID       string          `json:"id"`
					Response json.RawMessage `json:"response"`
				}
				body := f[strings.IndexByte(f, '#')+1:]
				if err := json.Unmarshal([]byte(body), &r); err != nil {
					t.Errorf("reply %q: %v", f, err)
					continue
				}
				mc.pending.mu.Lock()
				ch, ok := mc.pending.waiters[r.ID]
				delete(mc.pending.waiters, r.ID)
				mc.pending.mu.Unlock()
				if !ok {
					t.Errorf("reply with unknown or repeated id: %q", f)
					continue
				}
				ch <- f
			}
		}()
	}

	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mc := mcs[g%conns]
			ch := make(chan string, 1)
			for i := 0; i < perG; i++ {
				id := fmt.Sprintf("g%d-%d", g, i)
				mc.pending.mu.Lock()
				mc.pending.waiters[id] = ch
				mc.pending.mu.Unlock()
				req := reqFrame(`"sum"`, fmt.Sprintf("[%d,%d,1]", g, i), strconv.Quote(id))
				mc.wmu.Lock()
				mc.c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
				_, err := mc.c.nc.Write([]byte(req))
				mc.wmu.Unlock()
				if err != nil {
					t.Errorf("%s: write: %v", id, err)
					return
				}
				select {
				case got := <-ch:
					if want := valueReply(strconv.Itoa(g+i+1), strconv.Quote(id)); got != want {
						t.Errorf("%s: got %q, want %q", id, got, want)
						return
					}
				case <-time.After(20 * time.Second):
					t.Errorf("%s: no reply", id)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, mc := range mcs {
		mc.c.close()
		<-mc.done
	}
	waitMetric(t, s, "requests", uint64(goroutines*perG), func(m rpc.Metrics) uint64 { return m.Requests })
	waitMetric(t, s, "errors", 0, func(m rpc.Metrics) uint64 { return m.Errors })
}

// TestHandlerContextCancelledOnDisconnect: a handler waiting on its context
// sees it cancelled when the client goes away.
func TestHandlerContextCancelledOnDisconnect(t *testing.T) {
	started := make(chan struct{}, 1)
	observed := make(chan error, 1)
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		registerProbe(s)
		s.Handle("waitctx", rpc.HandlerFunc(func(ctx context.Context, _ rpc.ResponseWriter, _ *rpc.Request) error {
			started <- struct{}{}
			select {
			case <-ctx.Done():
				observed <- ctx.Err()
				return ctx.Err()
			case <-time.After(10 * time.Second):
				observed <- nil
				return nil
			}
		}))
	})
	other := dial(t, s)
	c := dial(t, s)
	c.write(reqFrame(`"waitctx"`, `1`, `"w1"`))
	select {
	case <-started:
	case <-time.After(ioTimeout):
		t.Fatal("handler not started")
	}
	c.close()
	select {
	case err := <-observed:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("handler's ctx.Err() = %v, want context.Canceled", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("handler's context not cancelled after the client disconnected")
	}
	bystanderCheck(t, other, "after")
	waitMetric(t, s, "errors_by_kind.canceled", 1, func(m rpc.Metrics) uint64 { return m.ErrorByKind.Canceled })
	waitMetric(t, s, "active_connections", 1, func(m rpc.Metrics) int64 { return m.ActiveConnections })
}

// TestShutdownDeliversInFlightReply: Shutdown with a slow request in
// flight lets it finish and its reply go out before the connection closes,
// closes idle connections, stops listening, and returns nil.
func TestShutdownDeliversInFlightReply(t *testing.T) {
	started := make(chan struct{}, 1)
	s, stop := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		registerProbe(s)
		s.Handle("slowish", rpc.ContextFunc(func(ctx context.Context, data json.RawMessage) (any, error) {
			started <- struct{}{}
			select {
			case <-time.After(300 * time.Millisecond):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return "done:" + string(data), nil
		}))
	})
	addr := s.Addr().String()
	idle := dial(t, s)
	bystanderCheck(t, idle, "before")
	c := dial(t, s)
	c.write(reqFrame(`"slowish"`, `7`, `"sd"`))
	select {
	case <-started:
	case <-time.After(ioTimeout):
		t.Fatal("handler not started")
	}
	shutdownErr := make(chan error, 1)
	go func() { shutdownErr <- stop() }()

	c.expectFrame(valueReply(`"done:7"`, `"sd"`))
	c.expectClosed()
	idle.expectClosed()
	select {
	case err := <-shutdownErr:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if nc, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		nc.Close()
		t.Error("the server still accepts connections after Shutdown")
	}
	if m := s.GetMetrics(); m.ActiveConnections != 0 || m.InFlight != 0 {
		t.Errorf("after Shutdown: active_connections %d, in_flight %d", m.ActiveConnections, m.InFlight)
	}
}

// TestShutdownTwice: calling Shutdown (or Close) again after a Shutdown, as
// deferred cleanup code commonly does, must not panic.
func TestShutdownTwice(t *testing.T) {
	for _, second := range []string{"Shutdown", "Close"} {
		t.Run("Shutdown then "+second, func(t *testing.T) {
			s := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0"}, discardLogger())
			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Fatalf("first Shutdown: %v", err)
			}
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("second call (%s) panicked: %v", second, p)
					}
				}()
				if second == "Shutdown" {
					s.Shutdown(ctx)
				} else {
					s.Close()
				}
			}()
		})
	}
}
