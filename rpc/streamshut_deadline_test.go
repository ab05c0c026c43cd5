package rpc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// A stream held by backpressure reaches its deadline while a graceful
// Shutdown drains: the peer, which reads (slowly), gets every value queued
// before the timeout reply, then the timeout reply as the stream's last
// frame, and the connection closes after it; Shutdown returns nil.
func TestStreamDeadlineDuringGracefulShutdown(t *testing.T) {
	val := strings.Repeat("x", 16<<10)
	srv, stop := startServer(t, rpc.Config{MaxQueuedReplyBytes: 256 << 10}, func(s *rpc.Server) {
		s.Handle("flood", rpc.Stream(func(ctx context.Context, _ json.RawMessage) iter.Seq2[string, error] {
			return func(yield func(string, error) bool) {
				for ctx.Err() == nil && yield(val, nil) {
				}
			}
		}), rpc.WithTimeout(400*time.Millisecond))
	})
	defer stop()
	nc := rawDial(t, srv, 16<<10)
	c := &client{t: t, nc: nc, br: bufio.NewReaderSize(nc, 4<<10)}
	defer c.close()
	c.write(reqFrame(`"flood"`, `null`, `1`))
	time.Sleep(100 * time.Millisecond) // held: the peer has not read
	shut := make(chan error, 1)
	shutdownBegun(srv, shut)
	values, last := 0, ""
	for {
		f, err := c.readFrameErr(ioTimeout)
		if err != nil {
			t.Fatalf("after %d values: %v", values, err)
		}
		if strings.Contains(f, `"response":"x`) && !strings.Contains(f, "isDisposed") {
			values++
			time.Sleep(time.Millisecond) // a slow reader
			continue
		}
		last = f
		break
	}
	if !strings.Contains(last, "Request timed out") {
		t.Errorf("after %d values, the stream ended with %s; want the timeout reply", values, clip(last))
	}
	c.expectClosed()
	c.close()
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}
