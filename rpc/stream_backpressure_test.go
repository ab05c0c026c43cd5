package rpc_test

import (
	"bufio"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestStreamBackpressureToReadingPeer: a stream handler producing faster
// than its peer reads (steadily) is slowed by Send. It used to queue until
// MaxQueuedReplyBytes and get the peer dropped as a slow consumer (after
// 313 of 512 values here), every other request on the connection lost.
func TestStreamBackpressureToReadingPeer(t *testing.T) {
	t.Parallel()
	const values = 512
	val := strings.Repeat("x", 16<<10) // 16 MiB in all, against a 4 MiB cap
	done := make(chan error, 2)
	srv, _ := startServer(t, rpc.Config{MaxQueuedReplyBytes: 4 << 20}, func(s *rpc.Server) {
		registerProbe(s)
		s.Handle("big", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
			for i := 0; i < values; i++ {
				if err := w.Send(val); err != nil {
					done <- err
					return err
				}
			}
			done <- nil
			return nil
		}))
	})
	c := dial(t, srv)
	c.write(reqFrame(`"big"`, `null`, `1`) + reqFrame(`"big"`, `null`, `2`))
	// A reader that reads steadily, 64 KiB every 5 ms (at most ~12 MB/s).
	br := bufio.NewReaderSize(c.nc, 64<<10)
	c.br = br
	got, ends := 0, 0
	var last string
	start := time.Now()
	for {
		f, err := c.readFrameErr(30 * time.Second)
		if err != nil {
			t.Fatalf("after %d of %d values (%v): %v; slow_consumer=%d", got, values, time.Since(start).Round(time.Millisecond), err, limits(srv).SlowConsumers)
		}
		last = f
		if strings.Contains(f, `"isDisposed":true`) {
			if ends++; ends == 2 {
				break
			}
			continue
		}
		got++
		if got%4 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if got < 2*values-2 {
		t.Errorf("got %d values, want %d; last %q", got, values, clip(last))
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("Send: %v", err)
		}
	}
}
