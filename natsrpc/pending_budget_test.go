package natsrpc_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestPendingWithinBudget: while a callback waits at the concurrency cap,
// nats.go keeps reading the socket into each subscription's pending queue, whose default limits (64 MiB, 512k
// messages) per subscription, two per pattern, held many times
// MemoryBudget. docs/SERVER.md bounds them: all subscriptions together a
// quarter of MemoryBudget, each at least max_payload; past it nats.go
// drops the message (slow consumer), which Server.Dropped counts.
func TestPendingWithinBudget(t *testing.T) {
	const (
		budget   = 64 << 20
		size     = 512 << 10
		patterns = 4
		perSubj  = 40 // 20 MiB per subject, 80 MiB in all
		// 8 subscriptions ("holdN" and {"cmd":"holdN"}): 1 MiB of data each
		// (budget/8 shared, max_payload at least), 8 MiB in all.
		bound = budget / 4
	)
	ns := natstest.Run(t, nil)
	srv := rpc.NewServer(&rpc.Config{MemoryBudget: budget, RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger())
	release := make(chan struct{})
	for i := range patterns {
		srv.Handle(fmt.Sprintf("hold%d", i), rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return w.Send("ok")
		}))
	}
	ns2 := natstest.Serve(t, srv, ns.ClientURL(), natsrpc.WithMaxConcurrent(1))
	defer close(release)
	if n := len(ns2.Subjects()); n != 2*patterns {
		t.Fatalf("%d subscriptions, want %d", n, 2*patterns)
	}

	attacker := connect(t, ns.ClientURL())
	pad := strings.Repeat("x", size)
	for i := range patterns {
		for j := range perSubj {
			body := fmt.Sprintf(`{"pattern":"hold%d","data":"%s","id":"%d"}`, i, pad, j)
			if err := attacker.PublishRequest(fmt.Sprintf("hold%d", i), fmt.Sprintf("_INBOX.a%d.%d", i, j), []byte(body)); err != nil {
				t.Fatal(err)
			}
		}
		attacker.Flush()
	}
	// Wait for the whole flood to reach the server's subscriptions.
	deadline := time.Now().Add(20 * time.Second)
	for natsrpc.Received(ns2) < patterns*perSubj && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	_, pend := natsrpc.PendingBytes(ns2)
	held := srv.GetMetrics().Limits.MemoryHeldBytes
	dropped := ns2.Dropped()
	t.Logf("pending in nats.go: %d KiB; charged to the budget: %d KiB; dropped: %d", pend>>10, held>>10, dropped)
	if pend > bound {
		t.Errorf("nats.go's pending queues hold %d MiB of a peer's payloads; documented bound with a MemoryBudget of %d MiB: %d MiB",
			pend>>20, budget>>20, bound>>20)
	}
	if held > budget {
		t.Errorf("%d MiB charged to a MemoryBudget of %d MiB", held>>20, budget>>20)
	}
	if dropped == 0 {
		t.Errorf("no message counted as dropped (slow consumer), with %d MiB sent and at most %d MiB pending", patterns*perSubj*size>>20, bound>>20)
	}
}
