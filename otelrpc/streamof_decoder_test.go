package otelrpc_test

import (
	"context"
	"encoding/json"
	"iter"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/otelrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestStreamOfThroughWrapperUsesDecoder: a *rpc.Client given
// rpc.WithDecoder and wrapped with otelrpc.WrapCaller (the documented way
// to trace it) decodes rpc.Call's reply with its decoder (Call goes through
// the wrapper's Send to Client.Send), but rpc.StreamOf's values with the
// built-in decoder: StreamOf looked for the unexported replyDecoder
// interface on the Caller it was given, which the wrapper does not have (it
// looks through an Unwrap() Caller method now).
// WithDecoder documents that it decodes "those of Send, [Call] and the
// values of [StreamOf]".
func TestStreamOfThroughWrapperUsesDecoder(t *testing.T) {
	cfg := rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, RetryAttempts: -1}
	s := rpc.NewServer(&cfg, quietLogger())
	s.Handle("one", rpc.Typed(func(_ context.Context, n int) (int, error) { return n, nil }))
	s.Handle("count", rpc.Stream(func(_ context.Context, n int) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			for i := 1; i <= n; i++ {
				if !yield(i, nil) {
					return
				}
			}
		}
	}))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	}()
	var used atomic.Int32
	dec := rpc.DecoderFunc(func(data []byte, v any) error { used.Add(1); return json.Unmarshal(data, v) })
	c, err := rpc.NewClient(s.Addr().String(), rpc.WithDecoder(dec), rpc.WithClientLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	traced := otelrpc.WrapCaller(c)
	ctx := context.Background()
	if _, err := rpc.Call[int, int](ctx, traced, "one", 1); err != nil {
		t.Fatal(err)
	}
	afterCall := used.Load()
	n := 0
	for _, err := range rpc.StreamOf[int](ctx, traced, "count", 3) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	streamed := used.Load() - afterCall
	if afterCall != 1 || streamed != int32(n) {
		t.Errorf("through otelrpc.WrapCaller, WithDecoder was used for %d of 1 Call replies and %d of %d StreamOf values", afterCall, streamed, n)
	}
}
