package rpc_test

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestStreamBackpressureManyStreamsToReadingPeer: SERVER.md promises "a
// stream's Send waits there (backpressure: a stream never outruns a peer
// that reads; one that does not is dropped by WriteTimeout)". Send queues
// its value first and waits for room after, so each stream running on a
// connection adds a value past the read-pause mark: several streams
// (here 16, MaxInFlight allows 256) overshoot MaxQueuedReplyBytes and the
// peer, which reads steadily, is dropped as a slow consumer, every reply
// lost.
func TestStreamBackpressureManyStreamsToReadingPeer(t *testing.T) {
	t.Parallel()
	const streams, values = 16, 32
	val := strings.Repeat("x", 64<<10)
	srv, _ := startServer(t, rpc.Config{MaxQueuedReplyBytes: 1 << 20}, func(s *rpc.Server) {
		s.Handle("big", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
			for i := 0; i < values; i++ {
				if err := w.Send(val); err != nil {
					return err
				}
			}
			return nil
		}))
	})
	c := dial(t, srv)
	var sb strings.Builder
	for i := range streams {
		sb.WriteString(reqFrame(`"big"`, `null`, strconv.Itoa(i+1)))
	}
	c.write(sb.String())
	c.br = bufio.NewReaderSize(c.nc, 64<<10)
	got, ends := 0, 0
	start := time.Now()
	for ends < streams {
		f, err := c.readFrameErr(30 * time.Second)
		if err != nil {
			t.Fatalf("after %d of %d values (%v): %v; slow_consumer=%d", got, streams*values, time.Since(start).Round(time.Millisecond), err, limits(srv).SlowConsumers)
		}
		if strings.Contains(f, `"err"`) {
			t.Fatalf("error reply %q", clip(f))
		}
		if strings.Contains(f, `"response"`) {
			got++
		}
		if strings.Contains(f, `"isDisposed":true`) {
			ends++
		}
		if got%4 == 0 {
			time.Sleep(2 * time.Millisecond) // a reader that reads steadily, ~ 100 MB/s at most
		}
	}
	if got != streams*values {
		t.Errorf("got %d values, want %d", got, streams*values)
	}
}
