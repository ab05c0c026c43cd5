package rpc_test

import (
	"context"
	"encoding/json"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestStreamValuesFlowWhileHandOffHeldBack: at MaxHandlers a long handler keeps
// its connection's reader ("handlers are never blocked by the cap",
// Config.MaxHandlers). A streaming handler there sends a value with
// ResponseWriter.Send; the value must reach the caller while the handler
// runs, as it does below the cap. It is left queued for the reader — the
// goroutine running the handler — so it leaves only when the handler
// returns or the request times out.
func TestStreamValuesFlowWhileHandOffHeldBack(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	s, _ := startServer(t, rpc.Config{MaxHandlers: 1, Timeout: 30 * time.Second}, func(s *rpc.Server) {
		s.Handle("block", rpc.HandlerFunc(func(ctx context.Context, _ rpc.ResponseWriter, _ *rpc.Request) error {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		}))
		s.Handle("ticker", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
			if err := w.Send("first"); err != nil {
				return err
			}
			select { // a subscription: more values later
			case <-release:
			case <-ctx.Done():
			}
			return nil
		}))
	})

	// Below the cap: the first value arrives while the handler runs.
	a := dial(t, s)
	a.write(reqFrame(`"ticker"`, "null", "1"))
	a.expectFrame(partReply(`"first"`, "1"))
	// The one slot is now taken by a's handler (handed off).
	if !eventually(ioTimeout, func() bool { return limits(s).HandedOffRunning == 1 }) {
		t.Fatalf("a's handler was not handed off: %+v", limits(s))
	}

	// At the cap: b's handler stays on b's reader.
	b := dial(t, s)
	b.write(reqFrame(`"ticker"`, "null", "2"))
	if !eventually(ioTimeout, func() bool { return limits(s).HandoffsDeferred > 0 }) {
		t.Fatalf("no hand-off deferred: %+v", limits(s))
	}
	f, err := b.readFrameErr(ioTimeout)
	if err != nil {
		t.Fatalf("at MaxHandlers, the streamed value never reached the caller within %v (handler still running): %v", ioTimeout, err)
	}
	if want := partReply(`"first"`, "2"); f != want {
		t.Fatalf("got %q, want %q", f, want)
	}
}

// TestHeldBackFlushesBounded: at MaxHandlers, the monitor starts a
// goroutine to write what a held-back handler sent before (a write may
// block on its peer). Peers that never read make those writes block: there
// is at most one per connection (a connection's writes go one at a time),
// so 20 such peers, each with a held-back handler that sent 1 MiB, cost at
// most a few goroutines each, and an honest client is still answered.
func TestHeldBackFlushesBounded(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	big := strings.Repeat("x", 1<<20)
	s, _ := startServer(t, rpc.Config{MaxHandlers: 1, Timeout: 30 * time.Second}, func(s *rpc.Server) {
		s.Handle("block", rpc.HandlerFunc(func(ctx context.Context, _ rpc.ResponseWriter, _ *rpc.Request) error {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		}))
		s.Handle("hog", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
			w.Send(big) // queued, then held back: the monitor's goroutine writes it
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		}))
		s.Handle("ping", rpc.Func(func(json.RawMessage) (any, error) { return "pong", nil }))
	})
	a := dial(t, s) // fills the one hand-off slot
	a.write(reqFrame(`"block"`, "null", `"a"`))
	if !eventually(ioTimeout, func() bool { return limits(s).HandedOffRunning == 1 }) {
		t.Fatalf("a's handler was not handed off: %+v", limits(s))
	}
	base := runtime.NumGoroutine()
	const attackers = 20
	for i := range attackers {
		c := dial(t, s) // never reads
		c.write(reqFrame(`"hog"`, "null", strconv.Itoa(i)))
	}
	if !eventually(ioTimeout, func() bool { return limits(s).HandoffsDeferred >= attackers }) {
		t.Fatalf("hand-offs held back: %+v", limits(s))
	}
	time.Sleep(200 * time.Millisecond) // the monitor's writers started and blocked
	n := runtime.NumGoroutine() - base
	t.Logf("%d goroutines more for %d held-back handlers", n, attackers)
	if n > 3*attackers {
		t.Errorf("%d goroutines for %d held-back handlers whose peers do not read, want at most %d", n, attackers, 3*attackers)
	}
	honest := dial(t, s)
	honest.write(reqFrame(`"ping"`, "null", `1`))
	if f, want := honest.readFrame(), valueReply(`"pong"`, `1`); f != want {
		t.Fatalf("honest client: got %.80s, want %s", f, want)
	}
}
