package rpc_test

import (
	"context"
	"errors"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestExposeStreamRepliesHeldToBudget: replies are charged to MemoryBudget
// without waiting for it (the handler has run), so peers that ask for long
// streams and never read could queue MaxQueuedReplyBytes each, far past the
// budget (24 such peers held 1.2 GiB against 512 MiB, from 92 bytes each).
// Now a stream's Send waits past the read-pause mark (1 MiB) and such peers
// are dropped as slow consumers after WriteTimeout; past the budget, a
// connection with more than the mark queued is dropped at once. An honest
// client is served throughout.
func TestExposeStreamRepliesHeldToBudget(t *testing.T) {
	t.Parallel()
	const budget = 16 << 20
	const attackers = 8
	srv, _ := startServer(t, rpc.Config{MemoryBudget: budget, WriteTimeout: 2 * time.Second}, func(s *rpc.Server) {
		registerProbe(s)
		// Values of 4 KiB: the budget is passed in seconds even under -race.
		page := strings.Repeat("x", 4<<10)
		s.Handle("pages", rpc.Stream(func(ctx context.Context, n int) iter.Seq2[string, error] {
			return func(yield func(string, error) bool) {
				for range n {
					if !yield(page, nil) {
						return
					}
				}
			}
		}))
	})
	for range attackers {
		nc := rawDial(t, srv, 4096)
		// Two streams of 4 GB each, about 90 bytes sent; nothing read.
		if _, err := nc.Write([]byte(reqFrame(`"pages"`, `1000000`, `1`) + reqFrame(`"pages"`, `1000000`, `2`))); err != nil {
			t.Fatal(err)
		}
	}
	// Until every attacker is dropped (or 20 s), noting the most held.
	var peak int64
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		l := limits(srv)
		peak = max(peak, l.MemoryHeldBytes)
		if l.SlowConsumers == attackers {
			break
		}
	}
	honestProbe(t, srv, "during", 5*time.Second)
	// Each dropped connection may pass the budget by what it queued before
	// it was over: its read-pause mark (1 MiB) and a frame.
	if slack := int64(attackers) * (2 << 20); peak > budget+slack {
		t.Errorf("replies held %d MiB at most; MemoryBudget %d MiB (+%d MiB slack)", peak>>20, budget>>20, slack>>20)
	}
	if n := limits(srv).SlowConsumers; n == 0 {
		t.Errorf("no connection dropped as a slow consumer (held %d MiB at most)", peak>>20)
	}
	t.Logf("peak held %.1f MiB, budget %d MiB, slow consumers %d", float64(peak)/(1<<20), budget>>20, limits(srv).SlowConsumers)
}

// TestStreamSendAfterCallerGone: once the caller's connection has closed,
// Send returns ErrCallerGone, so a stream handler that ignores its context
// still stops. Send used to return nil: such a handler ran on for nothing
// (and held Shutdown up).
func TestStreamSendAfterCallerGone(t *testing.T) {
	t.Parallel()
	ended := make(chan error, 1)
	srv, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		registerProbe(s)
		s.Handle("forever", rpc.HandlerFunc(func(_ context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
			for i := 0; ; i++ {
				if err := w.Send(i); err != nil {
					ended <- err
					return err
				}
			}
		}))
	})
	c := dial(t, srv)
	c.write(reqFrame(`"forever"`, `null`, `1`))
	c.readFrame()
	c.close()
	select {
	case err := <-ended:
		if !errors.Is(err, rpc.ErrCallerGone) || !errors.Is(err, context.Canceled) {
			t.Errorf("Send returned %v, want ErrCallerGone (a context.Canceled)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream handler still runs 10 s after its caller closed the connection")
	}
	honestProbe(t, srv, "after", 5*time.Second)
	if m := srv.GetMetrics(); m.ErrorByKind.Handler != 0 {
		t.Errorf("counted as %d handler errors; the caller left", m.ErrorByKind.Handler)
	}
}
