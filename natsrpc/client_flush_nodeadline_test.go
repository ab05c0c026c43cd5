//go:build !(aix || plan9 || (freebsd && !cgo && !amd64 && !arm64))

package natsrpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
)

// TestClientFlushWithoutDeadline: Flush "waits until the NATS server has
// everything sent so far (events included), or ctx ends". It handed ctx to
// nats.go's FlushWithContext, which refuses a context without a deadline
// (nats.ErrNoDeadlineContext): Flush(context.Background()) failed at once,
// flushing nothing, where calls take the client's default timeout.
func TestClientFlushWithoutDeadline(t *testing.T) {
	ns := natstest.Run(t, nil)
	for _, opts := range [][]natsrpc.ClientOption{nil, {natsrpc.WithCallTimeout(0)}} {
		c := natstest.Dial(t, ns.ClientURL(), opts...)
		if err := c.Emit(context.Background(), "evt", 1); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Flush(context.Background()) }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Flush(context.Background()) with options %d: %v; want nil", len(opts), err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Flush(context.Background()) did not return")
		}
	}
}
