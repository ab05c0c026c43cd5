//go:build !(aix || plan9 || (freebsd && !cgo && !amd64 && !arm64))

package natsrpc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
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
func TestDiscoveryPendingBounded(t *testing.T) {
	const budget = 16 << 20 // one pattern, 2 subscriptions: pending bound max(4 MiB, 2×2 MiB) = 4 MiB
	const bound = 4 << 20
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
	for _, sub := range dsubs {
		msgs, bytes, _ := sub.PendingLimits()
		if msgs < 0 || msgs*(4<<10) > bound || bytes < 0 || bytes > bound {
			t.Errorf("discovery subscription %q: pending limits %d messages, %d bytes: a peer's messages with 4 KiB reply subjects may hold %d MiB, documented bound for all pending with MemoryBudget %d MiB: %d MiB",
				sub.Subject, msgs, bytes, (int64(msgs)*(4<<10)+int64(bytes))>>20, budget>>20, bound>>20)
			break
		}
	}

	// And what it does queue under a flood of $SRV.STATS.
	var peak atomic.Int64
	stop := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			var held int64
			for _, sub := range dsubs {
				if n, b, err := sub.Pending(); err == nil {
					held += int64(n)*4000 + int64(b)
				}
			}
			if held > peak.Load() {
				peak.Store(held)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	attacker, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	pad := strings.Repeat("r", 3990)
	for i := range 40000 {
		if err := attacker.PublishRequest("$SRV.STATS", fmt.Sprintf("x.%s.%d", pad, i), nil); err != nil {
			t.Fatal(err)
		}
	}
	attacker.Flush()
	time.Sleep(100 * time.Millisecond)
	close(stop)
	<-polled
	t.Logf("peak held by discovery's pending queues: %d MiB", peak.Load()>>20)
	if peak.Load() > bound {
		t.Errorf("discovery's pending queues held %d MiB of one peer's $SRV.STATS messages; documented bound for all pending NATS messages with MemoryBudget %d MiB: %d MiB", peak.Load()>>20, budget>>20, bound>>20)
	}
}
