package rpc_test

import (
	"context"
	"iter"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientHeartbeatsWhileReceivingStream: a client that has pinged once
// is held by the server to heartbeats (HeartbeatPattern: "a connection
// silent for HeartbeatTimeout is then closed"). While it receives a long
// stream it reads all the time, so it never pings, and the server drops it
// as silent: the stream is cut. Here the server's and the client's
// heartbeats are 50ms/1s and the stream lasts about 3 s; with the
// defaults (10s/30s) any stream or long reply lasting more than 30 s on a
// connection that was once idle for 10 s is cut the same way.
func TestClientHeartbeatsWhileReceivingStream(t *testing.T) {
	t.Parallel()
	// The timeout is 20 intervals: a loaded CI machine running this package
	// with -race delayed the client's pings by 400 ms when it was 5.
	hbInterval, hbTimeout := 50*time.Millisecond, time.Second
	cfg := rpc.Config{HeartbeatInterval: hbInterval, HeartbeatTimeout: hbTimeout}
	srv, _ := startServer(t, cfg, func(s *rpc.Server) {
		s.Handle("ticks", rpc.Stream(func(ctx context.Context, n int) iter.Seq2[int, error] {
			return func(yield func(int, error) bool) {
				for i := range n {
					select {
					case <-time.After(20 * time.Millisecond):
					case <-ctx.Done():
						return
					}
					if !yield(i, nil) {
						return
					}
				}
			}
		}))
	})
	c := newTestClient(t, srv.Addr().String(), rpc.WithHeartbeat(hbInterval, hbTimeout))

	// Connect, then stay idle long enough for the client to ping.
	for _, err := range rpc.StreamOf[int](context.Background(), c, "ticks", 1) {
		if err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a ping while idle", func() bool { return c.Metrics().Heartbeats > 0 })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const want = 150 // about 3 s, three HeartbeatTimeouts
	got, start := 0, time.Now()
	var streamErr error
	for _, err := range rpc.StreamOf[int](ctx, c, "ticks", want) {
		if err != nil {
			streamErr = err
			break
		}
		got++
	}
	if got != want || streamErr != nil {
		t.Fatalf("stream cut after %d of %d values (%v), error %v; server heartbeat failures %d, client heartbeats %d",
			got, want, time.Since(start).Round(time.Millisecond), streamErr,
			srv.GetMetrics().Heartbeats.Failed, c.Metrics().Heartbeats)
	}
}
