package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// clientTestServer starts a server with the handlers the client tests call.
func clientTestServer(t *testing.T, cfg rpc.Config) (*rpc.Server, *atomic.Int32) {
	t.Helper()
	var events atomic.Int32
	srv, _ := startServer(t, cfg, func(s *rpc.Server) {
		s.Handle("sum", rpc.Typed(func(_ context.Context, xs []int) (int, error) {
			t := 0
			for _, x := range xs {
				t += x
			}
			return t, nil
		}))
		s.Handle(map[string]string{"cmd": "mul", "role": "math"}, rpc.Typed(func(_ context.Context, xs []int) (int, error) {
			return xs[0] * xs[1], nil
		}))
		s.Handle(42, constant("forty-two"))
		s.Handle("echo", rpc.Func(func(d json.RawMessage) (any, error) { return d, nil }))
		s.Handle("meta", rpc.ContextFunc(func(ctx context.Context, _ json.RawMessage) (any, error) {
			r, _ := rpc.RequestFromContext(ctx)
			return r.Metadata(), nil
		}))
		s.Handle("count", rpc.Stream(func(_ context.Context, n int) iter.Seq2[int, error] {
			return func(yield func(int, error) bool) {
				for i := 1; i <= n; i++ {
					if !yield(i, nil) {
						return
					}
				}
			}
		}))
		s.Handle("countfail", rpc.Stream(func(_ context.Context, n int) iter.Seq2[int, error] {
			return func(yield func(int, error) bool) {
				if yield(1, nil) {
					yield(0, rpc.NewError("stream broke"))
				}
			}
		}))
		s.Handle("fail", rpc.Func(func(json.RawMessage) (any, error) {
			e, _ := rpc.NewErrorObject(map[string]any{"status": 400, "message": "bad"})
			return nil, e
		}))
		s.Handle("sleep", rpc.ContextFunc(func(ctx context.Context, d json.RawMessage) (any, error) {
			var ms int
			json.Unmarshal(d, &ms)
			select {
			case <-time.After(time.Duration(ms) * time.Millisecond):
				return "slept", nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}))
		s.HandleEvent("evt", rpc.Event(func(context.Context, json.RawMessage) error { events.Add(1); return nil }))
	})
	return srv, &events
}

func newTestClient(t *testing.T, addr string, opts ...rpc.ClientOption) *rpc.Client {
	t.Helper()
	opts = append([]rpc.ClientOption{rpc.WithClientLogger(discardLogger())}, opts...)
	c, err := rpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestClientCalls(t *testing.T) {
	t.Parallel()
	srv, events := clientTestServer(t, rpc.Config{})
	c := newTestClient(t, srv.Addr().String())
	ctx := context.Background()

	var sum int
	if err := c.Send(ctx, "sum", []int{1, 2, 3}, &sum); err != nil || sum != 6 {
		t.Errorf("Send(sum) = %d, %v; want 6", sum, err)
	}
	if got, err := rpc.Call[[]int, int](ctx, c, map[string]string{"role": "math", "cmd": "mul"}, []int{6, 7}); err != nil || got != 42 {
		t.Errorf("Call(mul) = %d, %v; want 42", got, err)
	}
	if got, err := rpc.Call[any, string](ctx, c, 42, nil); err != nil || got != "forty-two" {
		t.Errorf("Call(42) = %q, %v", got, err)
	}
	if got, err := rpc.Call[any, int](ctx, c, map[string]string{"cmd": "sum"}, []int{2, 2}); err != nil || got != 4 {
		t.Errorf("Call({cmd:sum}) = %d, %v; want 4 (the cmd convenience)", got, err)
	}
	uni := "héllo 😀 \u2028 <&>"
	if got, err := rpc.Call[string, string](ctx, c, "echo", uni); err != nil || got != uni {
		t.Errorf("echo unicode = %q, %v", got, err)
	}
	big := strings.Repeat("añ😀", 1<<18)
	if got, err := rpc.Call[string, string](ctx, c, "echo", big); err != nil || got != big {
		t.Errorf("echo %d bytes: equal=%v, err=%v", len(big), got == big, err)
	}
	md, err := rpc.Call[any, map[string]string](ctx, c, "meta", nil, rpc.WithMetadata(map[string]string{"traceparent": "00-1-2-01"}))
	if err != nil || md["traceparent"] != "00-1-2-01" {
		t.Errorf("metadata round trip = %v, %v", md, err)
	}
	var raw json.RawMessage
	if err := c.Send(ctx, "echo", map[string]int{"a": 1}, &raw); err != nil || string(raw) != `{"a":1}` {
		t.Errorf("Send into RawMessage = %s, %v", raw, err)
	}

	// Streams.
	var got []int
	for v, err := range rpc.StreamOf[int](ctx, c, "count", 3) {
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		got = append(got, v)
	}
	if len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Errorf("stream = %v, want [1 2 3]", got)
	}
	got = nil
	var streamErr error
	for v, err := range rpc.StreamOf[int](ctx, c, "countfail", 0) {
		if err != nil {
			streamErr = err
			break
		}
		got = append(got, v)
	}
	var re *rpc.Error
	if len(got) != 1 || !errors.As(streamErr, &re) || re.Message != "stream broke" {
		t.Errorf("failing stream: values %v, err %v; want [1] then a remote error", got, streamErr)
	}
	var n int
	for range c.Stream(ctx, "count", 5) {
		if n++; n == 2 {
			break // abandoning a stream early must not leak its call
		}
	}

	// Events.
	if err := c.Emit(ctx, "evt", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	if err := c.Emit(ctx, map[string]string{"cmd": "evt"}, nil); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, srv, "events", 2, func(m rpc.Metrics) uint64 { return m.Events })
	if events.Load() != 2 {
		t.Errorf("event handler ran %d times, want 2", events.Load())
	}
	waitFor(t, "no call pending", func() bool { return c.Metrics().InFlight == 0 })
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	srv, _ := clientTestServer(t, rpc.Config{})
	c := newTestClient(t, srv.Addr().String())
	ctx := context.Background()

	err := c.Send(ctx, "fail", nil, nil)
	var re *rpc.Error
	var rawErr map[string]any
	if !errors.As(err, &re) || re.Status != "400" || re.Message != "bad" ||
		json.Unmarshal(re.Payload, &rawErr) != nil || rawErr["status"] != float64(400) {
		t.Errorf("remote error = %+v (%v); want status 400, message bad, the raw object", re, err)
	}
	if errors.Is(err, rpc.ErrNoHandler) || errors.Is(err, rpc.ErrConnectionLost) {
		t.Errorf("a handler's error must not look like %v", err)
	}
	err = c.Send(ctx, "nope", nil, nil)
	if !errors.Is(err, rpc.ErrNoHandler) || !errors.As(err, &re) {
		t.Errorf("unknown pattern: got %v; want a *RemoteError matching ErrNoHandler", err)
	}
	if err := c.Send(ctx, nil, nil, nil); err == nil {
		t.Error("a nil pattern must be refused locally")
	}
	if err := c.Send(ctx, "sum", func() {}, nil); err == nil || isRemoteErr(err) {
		t.Errorf("unencodable data: got %v, want a local encoding error", err)
	}
	var wrong string
	if err := c.Send(ctx, "sum", []int{1}, &wrong); err == nil || isRemoteErr(err) {
		t.Errorf("reply that does not decode: got %v, want a local decoding error", err)
	}

	// Dial errors are local and distinct.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	dead := newTestClient(t, addr, rpc.WithReconnectBackoff(time.Millisecond, 10*time.Millisecond))
	if err := dead.Send(ctx, "sum", nil, nil); err == nil || isRemoteErr(err) || errors.Is(err, rpc.ErrConnectionLost) {
		t.Errorf("dial failure: got %v", err)
	}
	if _, err := rpc.NewClient(addr, rpc.WithEagerConnect(), rpc.WithClientLogger(discardLogger())); err == nil {
		t.Error("WithEagerConnect must fail when the server is down")
	}
	c.Close()
	if err := c.Send(ctx, "sum", nil, nil); !errors.Is(err, rpc.ErrClientClosed) {
		t.Errorf("call after Close: %v, want ErrClientClosed", err)
	}
}

func isRemoteErr(err error) bool {
	var re *rpc.Error
	return errors.As(err, &re)
}

// TestClientConcurrentMultiplexed: many concurrent calls share one
// connection and each gets its own reply.
func TestClientConcurrentMultiplexed(t *testing.T) {
	t.Parallel()
	srv, _ := clientTestServer(t, rpc.Config{})
	conns := uint64(0)
	for _, tc := range []struct {
		name      string
		opts      []rpc.ClientOption
		wantConns uint64 // 0: not checked
	}{
		{"one connection", nil, 1},
		{"round-robin pool", []rpc.ClientOption{rpc.WithPool(3, false)}, 3},
		{"least-pending pool", []rpc.ClientOption{rpc.WithPool(3, true)}, 0},
	} {
		c := newTestClient(t, srv.Addr().String(), tc.opts...)
		var wg sync.WaitGroup
		var bad atomic.Int32
		for i := range 500 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := rpc.Call[[]int, int](context.Background(), c, "sum", []int{i, i})
				if err != nil || got != 2*i {
					bad.Add(1)
				}
			}()
		}
		wg.Wait()
		if bad.Load() != 0 {
			t.Errorf("%s: %d of 500 calls wrong", tc.name, bad.Load())
		}
		total := srv.GetMetrics().TotalConnections
		if tc.wantConns != 0 && total-conns != tc.wantConns {
			t.Errorf("%s: %d connections, want %d", tc.name, total-conns, tc.wantConns)
		}
		conns = total
	}
}

// TestClientDeadline: a call returns as soon as its context ends; the late
// reply is dropped and no pending entry is left.
func TestClientDeadline(t *testing.T) {
	t.Parallel()
	srv, _ := clientTestServer(t, rpc.Config{})
	c := newTestClient(t, srv.Addr().String())
	for range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		begin := time.Now()
		// The handler sleeps 2 s: a call that waited for it is told
		// from one that returned at its deadline with room for a stalled
		// machine.
		err := c.Send(ctx, "sleep", 2000, nil)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want DeadlineExceeded", err)
		}
		if d := time.Since(begin); d > time.Second {
			t.Fatalf("call returned %v after its 20ms deadline", d)
		}
	}
	if got, err := rpc.Call[int, string](context.Background(), c, "sleep", 1); err != nil || got != "slept" {
		t.Errorf("the connection must still work: %q, %v", got, err)
	}
	waitFor(t, "no call pending", func() bool { return c.Metrics().InFlight == 0 })
}

// waitFor polls cond until it holds, failing after a generous time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitForUpTo(t, 5*time.Second, what, cond)
}

// waitForUpTo is waitFor failing after d.
func waitForUpTo(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
	}
}

// TestClientAddressAndMetadata: NewClient rejects an address without a
// port at once; metadata values of any JSON type reach the handler.
func TestClientAddressAndMetadata(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"", "localhost", "127.0.0.1", "::1"} {
		if c, err := rpc.NewClient(addr); err == nil {
			c.Close()
			t.Errorf("NewClient(%q) succeeded", addr)
		}
	}
	srv, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("md", rpc.HandlerFunc(func(_ context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
			return w.Send(map[string]any{"strings": r.Metadata(), "raw": r.MetadataRaw()})
		}))
	})
	c, err := rpc.NewClient(srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got json.RawMessage
	err = c.Send(context.Background(), "md", nil, &got,
		rpc.WithMetadata(map[string]string{"traceparent": "00-1"}), rpc.WithMetadataValues(map[string]any{"n": 1, "tags": []string{"a"}}))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"raw":{"n":1,"tags":["a"],"traceparent":"00-1"},"strings":{"traceparent":"00-1"}}`; string(got) != want {
		t.Errorf("got %s\nwant %s", got, want)
	}

	// Metadata past MaxMetadataBytes is not decoded: a peer could
	// otherwise make each request decode megabytes into a map (4 MiB took
	// 1.35 s). At the bound it still is.
	for _, tt := range []struct {
		size int
		want string
	}{
		{rpc.MaxMetadataBytes, `"strings":{"pad":`},
		{rpc.MaxMetadataBytes + 1, `{"raw":null,"strings":null}`},
		{4 << 20, `{"raw":null,"strings":null}`},
	} {
		pad := strings.Repeat("x", tt.size-len(`{"pad":""}`))
		if err := c.Send(context.Background(), "md", nil, &got, rpc.WithMetadata(map[string]string{"pad": pad})); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(got), tt.want) {
			t.Errorf("metadata of %d bytes: got %.80s…, want %s", tt.size, got, tt.want)
		}
	}
}

// TestErrorForwarding: one error type for both sides — a handler that
// returns the error its own call got forwards status and message verbatim;
// a downstream "no handler" goes out as an internal error.
func TestErrorForwarding(t *testing.T) {
	t.Parallel()
	down, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("bad", rpc.Func(func(json.RawMessage) (any, error) {
			return nil, &rpc.Error{Payload: json.RawMessage(`{"status":400,"message":"bad input"}`)}
		}))
	})
	downClient, err := rpc.NewClient(down.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer downClient.Close()
	up, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("forward", rpc.ContextFunc(func(ctx context.Context, data json.RawMessage) (any, error) {
			var pattern string
			json.Unmarshal(data, &pattern)
			return nil, downClient.Send(ctx, pattern, nil, nil)
		}))
	})
	c := dial(t, up)
	c.call(`"forward"`, `"bad"`, "1", errReply(`{"status":400,"message":"bad input"}`, "1"))
	c.call(`"forward"`, `"missing"`, "2", errReply(internalError, "2"))

	// The client side: the same type, Status and Message read from the value.
	upClient, _ := rpc.NewClient(up.Addr().String())
	defer upClient.Close()
	err = upClient.Send(context.Background(), "forward", "bad", nil)
	var e *rpc.Error
	if !errors.As(err, &e) || e.Status != "400" || e.Message != "bad input" || errors.Is(err, rpc.ErrNoHandler) {
		t.Errorf("forwarded error: %#v", err)
	}
	if err := upClient.Send(context.Background(), "nope", nil, nil); !errors.Is(err, rpc.ErrNoHandler) {
		t.Errorf("our own no-handler: %v", err)
	}
}
