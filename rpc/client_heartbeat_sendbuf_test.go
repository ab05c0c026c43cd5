//go:build linux

package rpc_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestHeartbeatSparesUploadInSendBuffer: a server reading a big request
// steadily but slowly (16 KiB every 20 ms, about 800 KB/s) is healthy.
// Once the client's last Write returns, the ping behind the upload counts
// as written; but the kernel's send buffer (autotuned to megabytes) still
// holds the upload's tail, which the server needs longer than the
// heartbeat timeout (3 s here) to read before it can even see the ping.
// Only bytes read counted as life then, and the connection was killed
// with ErrHeartbeatTimeout while bytes were still moving (with the
// default 30 s timeout: an upload drained slower than about 140 KB/s).
// Bytes the server takes from the send buffer count now.
func TestHeartbeatSparesUploadInSendBuffer(t *testing.T) {
	t.Parallel()
	ln := listenSlowReader(t, 16<<10, 20*time.Millisecond)
	// A heartbeat timeout of 3 s, not 1: a server goroutine starved for
	// a second under load failed the test (as in the TLS test below).
	c := newTestClient(t, ln.Addr().String(), rpc.WithHeartbeat(100*time.Millisecond, 3*time.Second))
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

// TestHeartbeatSparesUploadInSendBufferTLS: the same over TLS, on a
// connection that has carried calls before. Acknowledged bytes count "until
// the ping itself is acknowledged", and where the ping ended was taken from
// the bytes the client wrote: plaintext, where the count of acknowledged
// bytes is of the wire, with the handshake and each record's header and tag
// (22 bytes or more). After some thousands of small calls the ping looked
// acknowledged as soon as it left, and the upload's tail still in the send
// buffer was cut by the heartbeat as before the fix. The ping's end is
// read in wire bytes now (acknowledged plus still queued).
func TestHeartbeatSparesUploadInSendBufferTLS(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	var slow atomic.Bool
	ln := serveRawConns(t, 16<<10, func(raw net.Conn, _ <-chan struct{}) {
		nc := tls.Server(raw, pki.serverConfig(false))
		defer nc.Close()
		eachNestFrame(readPausedWhen{nc, &slow, 400 * time.Millisecond}, 16<<10, 0, func(body []byte) bool {
			var req struct {
				ID json.RawMessage `json:"id"`
			}
			if json.Unmarshal(body, &req) != nil || req.ID == nil {
				return true
			}
			rep := `{"id":` + string(req.ID) + `,"response":"ok","isDisposed":true}`
			_, err := nc.Write([]byte(strconv.Itoa(len(rep)) + "#" + rep))
			return err == nil
		})
	})
	// A heartbeat timeout of 3 s, not 1: a server goroutine starved for
	// a second under load must not fail the test.
	c := newTestClient(t, ln.Addr().String(), rpc.WithTLS(pki.clientConfig(nil)), rpc.WithHeartbeat(100*time.Millisecond, 3*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The connection's history: small calls, a TLS record each, 22 bytes
	// or more of overhead each: 8,000 of them are 4.4 s at 40 KB/s.
	for i := range 8000 {
		if err := c.Send(ctx, "small", i, nil); err != nil {
			t.Fatalf("small call %d: %v", i, err)
		}
	}
	slow.Store(true) // 16 KiB every 400 ms: about 40 KB/s
	start := time.Now()
	var out string
	if err := c.Send(ctx, "upload", strings.Repeat("x", 512<<10), &out); err != nil {
		t.Fatalf("a steadily read 512 KiB upload over TLS failed after %v: %v (heartbeats sent %d, failures %d)",
			time.Since(start).Round(time.Millisecond), err, c.Metrics().Heartbeats, c.Metrics().HeartbeatFailures)
	}
	if out != "ok" {
		t.Fatalf("reply %q, want ok", out)
	}
}

// readPausedWhen pauses before each Read while *slow is set.
type readPausedWhen struct {
	net.Conn
	slow  *atomic.Bool
	pause time.Duration
}

func (c readPausedWhen) Read(p []byte) (int, error) {
	if c.slow.Load() {
		time.Sleep(c.pause)
	}
	return c.Conn.Read(p)
}
