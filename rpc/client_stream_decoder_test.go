package rpc_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestStreamOfUsesClientDecoder: rpc.StreamOf decodes a client's values
// with its WithDecoder, as rpc.Call does. It used the built-in decoder,
// so one client decoded its unary and its streamed replies differently.
func TestStreamOfUsesClientDecoder(t *testing.T) {
	t.Parallel()
	srv, _ := clientTestServer(t, rpc.Config{})
	var used atomic.Int32
	dec := rpc.DecoderFunc(func(data []byte, v any) error { used.Add(1); return json.Unmarshal(data, v) })
	c := newTestClient(t, srv.Addr().String(), rpc.WithDecoder(dec))
	ctx := context.Background()
	if _, err := rpc.Call[[]int, int](ctx, c, "sum", []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	afterCall := used.Load()
	n := 0
	for _, err := range rpc.StreamOf[int](ctx, c, "count", 3) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	streamed := used.Load() - afterCall
	t.Logf("decoder used %d times by rpc.Call, %d times for %d values of rpc.StreamOf", afterCall, streamed, n)
	if afterCall != 1 || streamed != int32(n) {
		t.Errorf("WithDecoder: used for %d of 1 Call replies and %d of %d StreamOf values", afterCall, streamed, n)
	}
}
