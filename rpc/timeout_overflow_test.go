package rpc_test

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestHugeTimeoutIsNoDeadline: a Timeout (or WithTimeout) so long that it
// never ends — time.Duration(math.MaxInt64), the usual "forever" — must not
// time requests out. The deadline was computed as the read's monotonic
// time plus the timeout, which overflows once the process has run at all:
// the deadline came out negative, already passed, and every request was
// answered "Request timed out after 2562047h47m16.854775807s" at once,
// its handler's context ended before it began.
func TestHugeTimeoutIsNoDeadline(t *testing.T) {
	const forever = time.Duration(math.MaxInt64)
	time.Sleep(time.Millisecond) // the server's clock has run (it has in any real process)
	handler := rpc.ContextFunc(func(ctx context.Context, d json.RawMessage) (any, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < time.Hour {
			return "deadline " + time.Until(dl).String(), nil
		}
		return d, nil
	})
	cases := []struct {
		name string
		cfg  rpc.Config
		opts []rpc.HandleOption
	}{
		{"Config.Timeout", rpc.Config{Timeout: forever}, nil},
		{"WithTimeout", rpc.Config{}, []rpc.HandleOption{rpc.WithTimeout(forever)}},
		{"Config.Timeout, nearly", rpc.Config{Timeout: forever - time.Microsecond}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := startServer(t, tc.cfg, func(s *rpc.Server) {
				s.Handle("echo", handler, tc.opts...)
			})
			c := dial(t, s)
			c.call(`"echo"`, `1`, `1`, valueReply(`1`, `1`))
			if m := s.GetMetrics(); m.ErrorByKind.Timeout != 0 {
				t.Errorf("timeouts = %d, want 0", m.ErrorByKind.Timeout)
			}
		})
	}
}

// TestHugeFrameTimeoutKeepsSplitFrame: FrameTimeout "forever"
// (time.Duration(math.MaxInt64)) must not drop a peer in the middle of a
// frame; the read deadline was now + FrameTimeout, which wraps to the past.
func TestHugeFrameTimeoutKeepsSplitFrame(t *testing.T) {
	const forever = time.Duration(math.MaxInt64)
	for _, tc := range []struct {
		name string
		cfg  rpc.Config
	}{
		{"FrameTimeout", rpc.Config{FrameTimeout: forever}},
		{"FrameTimeout, no rate floor", rpc.Config{FrameTimeout: forever, MinFrameRate: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := startServer(t, tc.cfg, func(s *rpc.Server) {
				s.Handle("echo", rpc.Func(func(d json.RawMessage) (any, error) { return d, nil }))
			})
			c := dial(t, s)
			f := reqFrame(`"echo"`, `1`, `1`)
			c.write(f[:10])
			time.Sleep(50 * time.Millisecond)
			c.write(f[10:])
			c.expectFrame(valueReply(`1`, `1`))
		})
	}
}

// TestHugeHeartbeatTimeoutKeepsPinger: a peer that pinged is held to
// HeartbeatTimeout; "forever" must not close it at once.
func TestHugeHeartbeatTimeoutKeepsPinger(t *testing.T) {
	s, _ := startServer(t, rpc.Config{HeartbeatTimeout: time.Duration(math.MaxInt64)}, func(s *rpc.Server) {
		s.Handle("echo", rpc.Func(func(d json.RawMessage) (any, error) { return d, nil }))
	})
	c := dial(t, s)
	c.call(`"msgpattern:heartbeat"`, `null`, `1`, valueReply(`"pong"`, `1`))
	time.Sleep(50 * time.Millisecond)
	c.call(`"echo"`, `2`, `2`, valueReply(`2`, `2`))
}

// TestHugeWriteTimeoutOverTLS: WriteTimeout of time.Duration(math.MaxInt64)
// ("forever") must not wrap to a write deadline in the past. Over TLS a
// write's deadline is the whole timeout from now (batchWriter.armDeadline),
// and now + MaxInt64 wrapped: every reply's write failed at once
// (i/o timeout, counted slow_consumer) and the peer got nothing.
func TestHugeWriteTimeoutOverTLS(t *testing.T) {
	time.Sleep(time.Millisecond) // the server's clock has run (it has in any real process)
	tlsEchoed(t, rpc.Config{WriteTimeout: time.Duration(math.MaxInt64)})
}

// TestClientCallWithHugeTimeout: a call whose context has a deadline
// time.Duration(math.MaxInt64) away ("forever") must not have its write
// cut at once: clientConn.flushAlone added the time until the deadline to
// the clock, which wrapped to a write deadline already passed, failing the
// call and the connection.
func TestClientCallWithHugeTimeout(t *testing.T) {
	time.Sleep(time.Millisecond) // the clocks have run (they have in any real process)
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("echo", rpc.ContextFunc(func(_ context.Context, d json.RawMessage) (any, error) { return d, nil }))
	})
	c, err := rpc.NewClient(s.Addr().String(), rpc.WithClientLogger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(math.MaxInt64))
	defer cancel()
	if got, err := rpc.Call[int, int](ctx, c, "echo", 7); err != nil || got != 7 {
		t.Fatalf("call: %v, %v; want 7", got, err)
	}
}
