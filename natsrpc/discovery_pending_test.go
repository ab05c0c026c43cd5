//go:build !(aix || plan9 || (freebsd && !cgo && !amd64 && !arm64))

package natsrpc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestDiscoveryPendingBounded: docs/SERVER.md bounds "NATS messages
// received but not yet taken": the pending queues together hold
// MemoryBudget/4 (each subscription at least 2 MiB: data and a 4.5 KiB
// share per message for the subject and the sender-chosen reply subject).
// Commit 376e215 applies that to the pattern subscriptions only; the nine
// NATS micro discovery subscriptions ($SRV.PING|INFO|STATS[.name[.id]]),
// made on every Serve by default, keep nats.go's defaults: 512k messages
// and 64 MiB of data each, with reply subjects uncounted. A peer that
// floods $SRV.STATS with ~4 KB reply subjects makes the server queue far
// more than the documented bound.
//
// The flood is measured with discovery's callback held (d.mu, which every
// reply takes), so that everything the server receives stays queued or is
// dropped: what is queued once the whole flood has arrived is exactly what
// nats.go lets the subscription hold, whatever the machine's speed.
func TestDiscoveryPendingBounded(t *testing.T) {
	const budget = 16 << 20 // one pattern, 2 subscriptions: pending bound max(4 MiB, 2×2 MiB) = 4 MiB
	const bound = 4 << 20
	const flood = 2 * bound / 4000 // twice what the bound holds of 4 KB reply subjects
	ns := runNATS(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := rpc.NewServer(&rpc.Config{MemoryBudget: budget, RateLimitPerSec: -1, RetryAttempts: -1}, quiet)
	srv.Handle("p", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error { return w.Send("ok") }))
	s, err := Connect(srv, ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	s.mu.Lock()
	dsubs := append([]*nats.Subscription(nil), s.disc.subs...)
	s.mu.Unlock()

	// What nats.go lets each discovery subscription queue.
	var stats *nats.Subscription
	reported := false
	for _, sub := range dsubs {
		if sub.Subject == "$SRV.STATS" {
			stats = sub
		}
		msgs, bytes, _ := sub.PendingLimits()
		if !reported && (msgs < 0 || msgs*(4<<10) > bound || bytes < 0 || bytes > bound) {
			t.Errorf("discovery subscription %q: pending limits %d messages, %d bytes: a peer's messages with 4 KiB reply subjects may hold %d MiB, documented bound for all pending with MemoryBudget %d MiB: %d MiB",
				sub.Subject, msgs, bytes, (int64(msgs)*(4<<10)+int64(bytes))>>20, budget>>20, bound>>20)
			reported = true
		}
	}
	if stats == nil {
		t.Fatal("no $SRV.STATS subscription")
	}

	// And what it does queue under a flood of $SRV.STATS, its callback held.
	s.disc.mu.Lock()
	held := true
	defer func() {
		if held {
			s.disc.mu.Unlock()
		}
	}()
	attacker, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	pad := strings.Repeat("r", 3990)
	for i := range flood {
		if err := attacker.PublishRequest("$SRV.STATS", fmt.Sprintf("x.%s.%d", pad, i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := attacker.Flush(); err != nil {
		t.Fatal(err)
	}
	// Wait until the server has received the whole flood (queued, in the
	// held callback — counted pending too — or dropped).
	var n, b, dropped int
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Millisecond) {
		n, b, _ = stats.Pending()
		dropped, _ = stats.Dropped()
		if n+dropped >= flood {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server received %d of %d $SRV.STATS messages within 60 s", n+dropped, flood)
		}
	}
	s.disc.mu.Unlock()
	held = false
	queued := int64(n)*4000 + int64(b)
	t.Logf("held by $SRV.STATS's pending queue: %d messages, %d KiB; dropped %d", n, queued>>10, dropped)
	if queued > bound {
		t.Errorf("discovery's pending queue held %d KiB of one peer's $SRV.STATS messages; documented bound for all pending NATS messages with MemoryBudget %d MiB: %d MiB", queued>>10, budget>>20, bound>>20)
	}
	if s.Dropped() < int64(dropped) || dropped == 0 {
		t.Errorf("Server.Dropped() = %d after $SRV.STATS dropped %d", s.Dropped(), dropped)
	}
}
