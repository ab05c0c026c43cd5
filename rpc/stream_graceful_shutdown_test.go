package rpc_test

import (
	"bufio"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestStreamSendDuringGracefulShutdown: a graceful Shutdown lets a stream
// finish to a peer that reads. A Send waiting for room used to be told
// ErrCallerGone as soon as Shutdown began (it waited on the reader's quit
// channel), the stream ending with "Server shutting down" after about
// 1200 of 2048 values.
func TestStreamSendDuringGracefulShutdown(t *testing.T) {
	const values = 1024
	val := strings.Repeat("v", 16<<10) // 16 MiB per stream, mark 128 KiB
	var sent [2]atomic.Int64
	errs := make(chan error, 2)
	// Timeout only bounds a stalled test: a loaded machine once took over
	// a minute for the 32 MiB (through the 16 KiB receive buffer, under
	// -race), and the streams were cut by their timeout. A stall is caught
	// by the reads' own 20 s bound below.
	srv, _ := startServer(t, rpc.Config{MaxQueuedReplyBytes: 256 << 10, Timeout: 10 * time.Minute}, func(s *rpc.Server) {
		registerProbe(s)
		s.Handle("stream", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
			i := 0
			if string(r.ID) == "2" {
				i = 1
			}
			for range values {
				if err := w.Send(val); err != nil {
					errs <- err
					return err
				}
				sent[i].Add(1)
			}
			errs <- nil
			return nil
		}))
	})
	nc := rawDial(t, srv, 16<<10)
	c := &client{t: t, nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}
	c.write(reqFrame(`"stream"`, `null`, `1`) + reqFrame(`"stream"`, `null`, `2`))

	// Wait until both handlers are held (the peer does not read yet):
	// their counts stop moving.
	var last int64 = -1
	if !eventually(10*time.Second, func() bool {
		n := sent[0].Load() + sent[1].Load()
		if n == last && n > 0 {
			return true
		}
		last = n
		time.Sleep(300 * time.Millisecond)
		return false
	}) {
		t.Fatal("handlers never blocked")
	}

	// 2 × 16 MiB go out during the drain: under -race on a loaded machine
	// that takes longer than startServer's 10 s stop, so Shutdown gets a
	// generous context of its own (stop, at cleanup, then finds it done).
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	// Shutdown has begun (the listener is closed) before we read.
	if !eventually(5*time.Second, func() bool { return srv.Addr() == nil }) {
		t.Fatal("Shutdown did not begin")
	}

	got, ends := 0, 0
	var errFrames []string
	for ends < 2 {
		f, err := c.readFrameErr(20 * time.Second)
		if err != nil {
			t.Fatalf("after %d values, %d ends: %v", got, ends, err)
		}
		if strings.Contains(f, `"response"`) {
			got++ // the last value may carry the completion
		}
		switch {
		case strings.Contains(f, `"err"`):
			errFrames = append(errFrames, clip(f))
			ends++
		case strings.Contains(f, `"isDisposed":true`):
			ends++
		}
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("Send during a graceful Shutdown, peer still reading: %v", err)
		}
	}
	if got != 2*values || len(errFrames) > 0 {
		t.Errorf("peer got %d of %d values; error replies %q", got, 2*values, errFrames)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}
