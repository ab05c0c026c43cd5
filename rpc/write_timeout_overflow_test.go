package rpc_test

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

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
