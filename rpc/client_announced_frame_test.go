package rpc_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
	"github.com/msgpattern/msgpattern/wire"
)

// A server (hostile or broken) answers each call by announcing a frame just
// under the client's default limit (16 Mi units) and trickling a few bytes
// of it. The client's reader must grow its buffer with what arrives, as the
// server's does (docs/SERVER.md: "never from their announced length"): it
// held 16 MiB per connection for 30 bytes received, and growing by doubling
// on every short read would get there after a dozen reads. Not parallel: it
// reads the process's heap.
func TestClientBuffersAnnouncedFrameAsItArrives(t *testing.T) {
	fs := startFakeServer(t, func(_ int, req wire.Packet, w func(string)) bool {
		w("16777000#{\"id\":" + string(req.ID) + ",\"response\":\"")
		for range 16 {
			time.Sleep(2 * time.Millisecond)
			w("aaaa")
		}
		return true
	})
	const pool = 4
	c := newTestClient(t, fs.addr, rpc.WithPool(pool, false), rpc.WithEagerConnect())
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range pool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		c.Send(ctx, "x", strings.Repeat("a", 10), nil)
		cancel()
	}
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("client heap grew by %.1f MiB: %d connections, each sent ~100 bytes of an announced 16 Mi-unit frame", float64(grew)/(1<<20), pool)
	if grew > 4<<20 {
		t.Errorf("client holds %.1f MiB more for %d partial frames of ~100 bytes each: its read buffers grow from the announced length, not from what arrived", float64(grew)/(1<<20), pool)
	}
}
