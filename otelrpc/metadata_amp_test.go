package otelrpc_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/otelrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestMetadataDecodeBounded: docs/SERVER.md bounds
// request metadata at 10 KiB of JSON (rpc.MaxMetadataBytes) and says the
// worst case a peer can make the server hold is about MemoryBudget plus
// small per-connection amounts. otelrpc's Middleware calls
// Request.Metadata on every request, which decodes those KiB into a map
// kept with the request while its handler runs: with many short keys
// about 12 bytes per byte of metadata (≈ 95 KB for 8 KiB), charged
// nowhere and documented nowhere. With the default rate limit (burst 200),
// four connections start 800 such requests against a handler that takes
// its time: the server holds several times MemoryBudget (8 MiB here) for
// 6.5 MB of frames.
func TestMetadataDecodeBounded(t *testing.T) {
	const budget = 8 << 20
	const conns, perConn = 4, 200 // the default burst of the default rate limit
	var running atomic.Int32
	release := make(chan struct{})
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", MemoryBudget: budget}, quietLogger())
	srv.Use(otelrpc.Middleware())
	srv.Handle("slow", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
		running.Add(1)
		<-release // a database call, say
		return w.Send(1)
	}))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	released := false
	defer func() {
		if !released {
			close(release)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()

	var md strings.Builder
	md.WriteString("{")
	for i := 0; md.Len() < rpc.MaxMetadataBytes-16; i++ {
		if i > 0 {
			md.WriteString(",")
		}
		fmt.Fprintf(&md, `"%x":""`, i)
	}
	md.WriteString("}")
	var frames strings.Builder
	for i := range perConn {
		body := `{"pattern":"slow","data":null,"id":` + strconv.Itoa(i) + `,"metadata":` + md.String() + `}`
		frames.WriteString(strconv.Itoa(len(body)) + "#" + body)
	}
	all := frames.String()

	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	live := func() uint64 {
		runtime.GC()
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	base := live()
	var ncs []net.Conn
	for range conns {
		nc, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		ncs = append(ncs, nc)
		nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := nc.Write([]byte(all)); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(60 * time.Second); running.Load() < conns*perConn; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d handlers running, want %d", running.Load(), conns*perConn)
		}
	}
	grew := live() - min(base, live())
	frameBytes := uint64(conns * len(all))
	// Generous: 4× the budget, twice the frames themselves, 256 KiB per
	// connection.
	limit := 4*budget + 2*frameBytes + conns*256<<10
	t.Logf("%d requests, %d KB of frames (metadata %d B each); live heap grew %d MiB (limit %d MiB)",
		conns*perConn, frameBytes>>10, md.Len(), grew>>20, limit>>20)
	if grew > limit {
		t.Errorf("with MemoryBudget %d MiB the server holds %d MiB for %d KB of frames: decoded metadata (≈%d KB a request) is neither charged nor documented",
			budget>>20, grew>>20, frameBytes>>10, grew/uint64(conns*perConn)>>10)
	}
	close(release)
	released = true
	for _, nc := range ncs {
		br := bufio.NewReader(nc)
		nc.SetReadDeadline(time.Now().Add(30 * time.Second))
		for range perConn {
			if _, err := br.ReadString('}'); err != nil {
				t.Fatalf("reply: %v", err)
			}
		}
	}
}
