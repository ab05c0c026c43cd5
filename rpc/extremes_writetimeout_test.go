package rpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestTinyWriteTimeoutServesReadingPeer: WriteTimeout drops a peer whose
// socket takes no bytes for that long; a peer reading every reply at once
// takes every byte, however short the timeout. A timeout under a few
// nanoseconds (a quarter of it rounding to zero on TCP) or shorter than the
// time to reach the write call armed a deadline already passed, so the
// write was never tried and every connection was dropped as a slow
// consumer before its first reply.
func TestTinyWriteTimeoutServesReadingPeer(t *testing.T) {
	for _, d := range []time.Duration{1, 3, time.Microsecond} {
		t.Run(d.String(), func(t *testing.T) {
			s, _ := startServer(t, rpc.Config{WriteTimeout: d}, func(s *rpc.Server) {
				rpc.NewServerWrapper(s).MessagePattern("ping", func(json.RawMessage) (interface{}, error) { return "pong", nil })
			})
			c, err := rpc.NewClient(s.Addr().String(), rpc.WithClientLogger(discardLogger()), rpc.WithWriteTimeout(d))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for i := range 3 {
				ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
				var out string
				err := c.Send(ctx, "ping", nil, &out)
				cancel()
				if err != nil || out != "pong" {
					t.Fatalf("WriteTimeout %v, call %d: %q, %v (slow_consumer %d)", d, i, out, err, s.GetMetrics().Limits.SlowConsumers)
				}
			}
		})
	}
}
