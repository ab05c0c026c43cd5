//go:build !(aix || plan9 || (freebsd && !cgo && !amd64 && !arm64))

package natsrpc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientStreamStopsAtContextEnd: once a stream call's context has
// ended, the next step of the iteration ends it with the context's error.
// The iterator used to yield every value already buffered first (up to
// WithMaxStreamBuffer), checking the context only with its queue empty: a
// producer a little faster than its consumer kept the call going past its
// deadline, and the stream then ended with no error at all. Here every
// value is in the client's queue before the consumer takes its second: a
// call answered after them on the same connection has returned.
func TestClientStreamStopsAtContextEnd(t *testing.T) {
	const values = 200
	ns := natstest.Run(t, nil)
	srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1}, quietLogger())
	more, sent := make(chan struct{}), make(chan struct{})
	srv.Handle("many", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
		defer close(sent)
		if err := w.Send(1); err != nil {
			return err
		}
		<-more
		for range values - 1 {
			if err := w.Send(1); err != nil {
				return err
			}
		}
		return nil
	}))
	srv.Handle("ping", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error { return w.Send("pong") }))
	natstest.Serve(t, srv, ns.ClientURL())
	c := natstest.Dial(t, ns.ClientURL())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	taken, afterCancel := 0, 0
	var last error
	for _, err := range c.Stream(ctx, "many", nil) {
		if err != nil {
			last = err
			break
		}
		if taken++; taken > 1 {
			afterCancel++
			continue
		}
		cancel()
		close(more)
		<-sent
		// Published after the stream's values on the server's connection,
		// so delivered after them: they are all queued once it returns.
		if _, err := rpc.Call[any, string](ctxT(t, 5*time.Second), c, "ping", nil); err != nil {
			t.Fatalf("ping: %v", err)
		}
	}
	if afterCancel > 0 || !errors.Is(last, context.Canceled) {
		t.Fatalf("after its context was cancelled the stream yielded %d more values and ended with %v; want it to end at once with context.Canceled", afterCancel, last)
	}
}
