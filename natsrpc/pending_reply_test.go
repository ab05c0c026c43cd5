package natsrpc_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/internal/streamtest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestPendingBoundCountsReplySubjects: docs/SERVER.md bounds what nats.go's
// pending queues hold — "all together MemoryBudget/4 … and 1 message per
// KiB of that" — and the worst case "(NATS: plus MemoryBudget/4 pending
// …)". nats.go counts only data and headers as pending bytes; the reply
// subject, chosen by the peer and up to max_control_line (4 KiB), is
// uncounted, so messages with an empty payload and a 4 KB reply fill the
// message limit (1 per KiB) while holding ~4× the byte limit.
func TestPendingBoundCountsReplySubjects(t *testing.T) {
	const budget = 64 << 20 // 1 pattern, 2 subscriptions: 8 MiB and 8192 messages each, 16 MiB in all
	ns := natstest.Run(t, nil)
	srv := rpc.NewServer(&rpc.Config{MemoryBudget: budget, RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger())
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	srv.Handle("hold", holdUntil(release, func(*rpc.Request) { started <- struct{}{} }))
	ns2 := natstest.Serve(t, srv, ns.ClientURL(), natsrpc.WithMaxConcurrent(1))
	defer close(release)

	attacker, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	// One request holds the only worker; the rest wait in nats.go's queue.
	if err := attacker.PublishRequest("hold", "_INBOX.first", []byte(`{"pattern":"hold","data":1,"id":"1"}`)); err != nil {
		t.Fatal(err)
	}
	<-started
	base := int64(streamtest.HeapAlloc())
	const total = 8192 + 200
	pad := strings.Repeat("r", 3900)
	subjects := ns2.Subjects() // "hold" and {"cmd":"hold"}
	for _, subj := range subjects {
		for i := range total {
			if err := attacker.PublishRequest(subj, fmt.Sprintf("_INBOX.%s.%d", pad, i), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := attacker.Flush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for natsrpc.Received(ns2) < len(subjects)*total+1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	attacker.Close()
	msgs, bytes := natsrpc.PendingBytes(ns2)
	held := int64(streamtest.HeapAlloc()) - base
	t.Logf("pending: %d messages, %d bytes counted by nats.go; heap grew by %d MiB; dropped %d", msgs, bytes, held>>20, ns2.Dropped())
	if bound := int64(budget / 4); held > bound+8<<20 {
		t.Errorf("nats.go's pending queues hold %d MiB of a peer's messages; documented bound with a MemoryBudget of %d MiB: MemoryBudget/4 = %d MiB",
			held>>20, budget>>20, bound>>20)
	}
}
