package rpc_test

import (
	"context"
	"encoding/json"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// nestedArrays is an array pattern nested `levels` deep, each array holding
// 20 elements: every value stays within Nest's limits (20 keys, depth 5), so
// all of it is normalized.
func nestedArrays(levels int) string {
	s := "0"
	for range levels {
		s = "[" + strings.Repeat(s+",", 19) + s + "]"
	}
	return s
}

// TestPatternNormalizationMemoryBounded: a route holding [TOO_MANY_KEYS]
// (any object pattern of more than 20 keys) matches patterns whatever their
// dropped members hold, so their length cannot be bounded by the key's; but
// normalizing holds a parse tree of about 30 bytes per byte of pattern,
// charged to no budget. A 6.7 MB pattern (nested arrays, within Nest's
// limits) made the server hold hundreds of MiB; now it is refused unread,
// while a 21-key pattern still reaches its handler.
func TestPatternNormalizationMemoryBounded(t *testing.T) {
	wide := map[string]any{}
	for i := range 21 {
		wide["k"+strconv.Itoa(i)] = i
	}
	var events atomic.Int32
	srv, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.HandleEvent(wide, rpc.HandlerFunc(func(context.Context, rpc.ResponseWriter, *rpc.Request) error {
			events.Add(1)
			return nil
		}))
		s.Handle("ping", rpc.Func(func(json.RawMessage) (any, error) { return "pong", nil }))
	})
	c := dial(t, srv)
	pat := nestedArrays(5) // 6.7 MB, well under MaxFrameSize (16 Mi)
	evt := reqFrame(pat, "null", "")
	frameBytes := uint64(len(evt))

	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	runtime.GC()
	base := read()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	wideJSON, _ := json.Marshal(wide)
	c.write(reqFrame(string(wideJSON), "null", "")) // an honest one first
	c.write(evt)
	// The reader handles frames in order: the ping's reply comes once the
	// event's pattern has been normalized.
	c.write(reqFrame(`"ping"`, "null", "1"))
	c.nc.SetReadDeadline(time.Now().Add(2 * time.Minute))
	f, err := readNestFrame(c.br)
	close(stop)
	<-done
	if err != nil {
		t.Fatalf("no reply to ping: %v", err)
	}
	if want := valueReply(`"pong"`, "1"); f != want {
		t.Fatalf("ping: got %s, want %s", clip(f), want)
	}
	if n := events.Load(); n != 1 {
		t.Errorf("the event handler ran %d times, want 1 (the 21-key pattern, not the 6.7 MB one)", n)
	}
	grew := peak.Load() - min(base, peak.Load())
	t.Logf("frame %d MB; live heap grew by %d MB while its pattern was routed", frameBytes>>20, grew>>20)
	// The frame itself may be buffered about twice; allow 16 times.
	if limit := 16 * frameBytes; grew > limit {
		t.Errorf("routing one %d MB event made the live heap grow by %d MB (> %d MB): normalizing a pattern is not bounded by the frame size nor charged to MemoryBudget", frameBytes>>20, grew>>20, limit>>20)
	}
}
