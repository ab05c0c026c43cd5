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

// TestExposeRunningHandlersHoldTheirFrames: what a running handler's
// request holds stays charged to MemoryBudget until the handler returns, so
// peers sending big frames to slow handlers wait for the budget instead of
// holding memory past it; an honest client with small frames is served
// meanwhile, and every byte comes back once the handlers end.
//   - A request's Data, ID and Pattern are slices of the read chunk it came
//     in, which stays in memory after the reader has moved on: 4 peers × 50
//     frames of 4 MiB held 800 MiB against 512 MiB.
//   - A frame with invalid UTF-8 is served from a sanitized copy (U+FFFD,
//     3 bytes, for each bad byte): 40 frames of 8 MiB of 0xFF held 978 MiB
//     of heap against a 317 MiB charge.
func TestExposeRunningHandlersHoldTheirFrames(t *testing.T) {
	t.Parallel()
	const conns, perConn = 4, 4
	for _, tt := range []struct {
		name    string
		budget  int64
		data    string // the frames' data, a JSON string
		perHold int64  // what each running handler holds
	}{
		{"chunks", 16 << 20, `"` + strings.Repeat("x", 2<<20) + `"`, 2 << 20},
		{"sanitized copies", 4 << 20, `"` + strings.Repeat("\xff", 256<<10) + `"`, 3 * 256 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			var running, peak, done atomic.Int64
			srv, _ := startServer(t, rpc.Config{MemoryBudget: tt.budget}, func(s *rpc.Server) {
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
			var wg sync.WaitGroup
			for c := range conns {
				nc := rawDial(t, srv, 0)
				wg.Go(func() {
					for i := range perConn {
						nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
						if _, err := nc.Write([]byte(reqFrame(`"hold"`, tt.data, strconv.Itoa(c*100+i)))); err != nil {
							return
						}
					}
				})
			}
			// Until the number running has stayed the same for a second (it
			// grows slowly under -race), 20 s at most.
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
			// The budget covers every running handler's hold but what each
			// connection holds free (64 KiB of its chunk).
			if max := tt.budget/tt.perHold + conns; peak.Load() > max {
				t.Errorf("%d handlers ran at once, each holding %d KiB, with a %d KiB budget; want at most %d",
					peak.Load(), tt.perHold>>10, tt.budget>>10, max)
			}
			if held > tt.budget {
				t.Errorf("memory_held_bytes reached %d KiB, over the %d KiB budget", held>>10, tt.budget>>10)
			}
			t.Logf("%d handlers ran at once; memory held %.1f MiB at most, of %d", peak.Load(), float64(held)/(1<<20), tt.budget>>20)
			close(release)
			// As handlers end, their charges come back and the rest is served.
			if !eventually(20*time.Second, func() bool { return done.Load() == conns*perConn }) {
				t.Errorf("%d of %d requests served after the handlers were released", done.Load(), conns*perConn)
			}
			wg.Wait()
			if !eventually(5*time.Second, func() bool { return limits(srv).MemoryHeldBytes == 0 }) {
				t.Errorf("memory_held_bytes %d after every request was served, want 0", limits(srv).MemoryHeldBytes)
			}
		})
	}
}
