package rpc_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestExposeRunningHandlersHoldTheirFrames: a request's Data, ID and Pattern
// are slices of the read chunk it came in, so the chunk stays in memory
// while its handler runs, also after the reader has moved on. Such chunks
// stay charged to MemoryBudget until their handlers end: peers sending big
// frames to slow handlers wait for the budget instead of holding memory
// past it (4 peers × 50 frames of 4 MiB held 800 MiB against 512 MiB). An
// honest client with small frames is served meanwhile.
func TestExposeRunningHandlersHoldTheirFrames(t *testing.T) {
	t.Parallel()
	const (
		budget  = 32 << 20
		frame   = 2 << 20
		conns   = 4
		perConn = 10 // 80 MiB of frames in all
	)
	release := make(chan struct{})
	var running, peak, done atomic.Int64
	srv, _ := startServer(t, rpc.Config{MemoryBudget: budget}, func(s *rpc.Server) {
		registerProbe(s)
		s.Handle("hold", rpc.Func(func(json.RawMessage) (any, error) {
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			<-release
			running.Add(-1)
			done.Add(1)
			return "ok", nil
		}))
	})
	pad := strings.Repeat("x", frame)
	var wg sync.WaitGroup
	for c := range conns {
		nc := rawDial(t, srv, 0)
		wg.Go(func() {
			for i := range perConn {
				nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
				if _, err := nc.Write([]byte(reqFrame(`"hold"`, `"`+pad+`"`, strconv.Itoa(c*100+i)))); err != nil {
					return
				}
			}
		})
	}
	time.Sleep(3 * time.Second) // the attackers get as far as they can
	honestProbe(t, srv, "during", 5*time.Second)
	held := limits(srv).MemoryHeldBytes
	// Each running handler holds its 2 MiB frame; the budget covers all
	// but what each connection holds free (64 KiB).
	if max := int64(budget/frame + conns); peak.Load() > max {
		t.Errorf("%d handlers ran at once on %d MiB frames (%d MiB) with a %d MiB budget; want at most %d",
			peak.Load(), frame>>20, peak.Load()*frame>>20, budget>>20, max)
	}
	if held > budget {
		t.Errorf("memory_held_bytes %d MiB, over the %d MiB budget", held>>20, budget>>20)
	}
	t.Logf("%d handlers ran at once; memory held %.1f MiB of %d", peak.Load(), float64(held)/(1<<20), budget>>20)
	close(release)
	// Once handlers end, their chunks' charges come back and the rest is served.
	if !eventually(20*time.Second, func() bool { return done.Load() == conns*perConn }) {
		t.Errorf("%d of %d requests served after the handlers were released", done.Load(), conns*perConn)
	}
	wg.Wait()
	if !eventually(5*time.Second, func() bool { return limits(srv).MemoryHeldBytes == 0 }) {
		t.Errorf("memory_held_bytes %d after every request was served, want 0", limits(srv).MemoryHeldBytes)
	}
}

// TestExposeInvalidUTF8CopiesCharged: a frame with invalid UTF-8 is served
// from a sanitized copy (as Node.js decodes it: U+FFFD, 3 bytes, for each
// bad byte), which its handler holds as it would the chunk. The copy is
// charged to MemoryBudget and waited for: 40 frames of 8 MiB of 0xFF to
// handlers that block held 978 MiB of heap against a 317 MiB charge.
func TestExposeInvalidUTF8CopiesCharged(t *testing.T) {
	t.Parallel()
	const (
		budget  = 4 << 20
		bad     = 256 << 10 // invalid bytes per frame: a 768 KiB copy
		conns   = 4
		perConn = 4
	)
	release := make(chan struct{})
	var running, peak, done atomic.Int64
	srv, _ := startServer(t, rpc.Config{MemoryBudget: budget}, func(s *rpc.Server) {
		registerProbe(s)
		s.Handle("hold", rpc.Func(func(json.RawMessage) (any, error) {
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			<-release
			running.Add(-1)
			done.Add(1)
			return "ok", nil
		}))
	})
	junk := strings.Repeat("\xff", bad)
	var wg sync.WaitGroup
	for c := range conns {
		nc := rawDial(t, srv, 0)
		wg.Go(func() {
			for i := range perConn {
				nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
				if _, err := nc.Write([]byte(reqFrame(`"hold"`, `"`+junk+`"`, strconv.Itoa(c*100+i)))); err != nil {
					return
				}
			}
		})
	}
	// Until the number running has stayed the same for a second (it grows
	// slowly under -race), 20 s at most.
	var held int64
	last, since := int64(-1), time.Now()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		held = max(held, limits(srv).MemoryHeldBytes)
		if r := running.Load(); r != last || r == 0 {
			last, since = r, time.Now()
		} else if time.Since(since) > time.Second {
			break
		}
	}
	honestProbe(t, srv, "during", 5*time.Second)
	// Each running handler holds a 768 KiB copy (and its chunk, which
	// other frames share): the budget admits about five.
	if max := int64(budget/(3*bad) + conns); peak.Load() > max {
		t.Errorf("%d handlers ran at once on %d KiB copies with a %d MiB budget; want at most %d",
			peak.Load(), 3*bad>>10, budget>>20, max)
	}
	if held > budget {
		t.Errorf("memory_held_bytes reached %d MiB, over the %d MiB budget", held>>20, budget>>20)
	}
	t.Logf("%d handlers ran at once; memory held %.1f MiB at most, of %d", peak.Load(), float64(held)/(1<<20), budget>>20)
	close(release)
	if !eventually(20*time.Second, func() bool { return done.Load() == conns*perConn }) {
		t.Errorf("%d of %d requests served after the handlers were released", done.Load(), conns*perConn)
	}
	wg.Wait()
	if !eventually(5*time.Second, func() bool { return limits(srv).MemoryHeldBytes == 0 }) {
		t.Errorf("memory_held_bytes %d after every request was served, want 0", limits(srv).MemoryHeldBytes)
	}
}
