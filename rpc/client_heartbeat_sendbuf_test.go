//go:build linux

package rpc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestHeartbeatSparesUploadInSendBuffer: a server reading a big request
// steadily but slowly (16 KiB every 20 ms, about 800 KB/s) is healthy.
// Once the client's last Write returns, the ping behind the upload counts
// as written; but the kernel's send buffer (autotuned to megabytes) still
// holds the upload's tail, which the server needs longer than the
// heartbeat timeout (1 s here) to read before it can even see the ping.
// Only bytes read counted as life then, and the connection was killed
// with ErrHeartbeatTimeout while bytes were still moving (with the
// default 30 s timeout: an upload drained slower than about 140 KB/s).
// Bytes the server takes from the send buffer count now.
func TestHeartbeatSparesUploadInSendBuffer(t *testing.T) {
	t.Parallel()
	ln := listenSlowReader(t, 16<<10, 20*time.Millisecond)
	c := newTestClient(t, ln.Addr().String(), rpc.WithHeartbeat(100*time.Millisecond, time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	var out string
	if err := c.Send(ctx, "upload", strings.Repeat("x", 6<<20), &out); err != nil {
		t.Fatalf("a steadily read 6 MiB upload failed after %v: %v (heartbeats sent %d, failures %d)",
			time.Since(start).Round(time.Millisecond), err, c.Metrics().Heartbeats, c.Metrics().HeartbeatFailures)
	}
	if out != "ok" {
		t.Fatalf("reply %q, want ok", out)
	}
}
