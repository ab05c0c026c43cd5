package natsrpc_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestHeadersChargedToBudget: docs/SERVER.md: "NATS messages held by
// running handlers (payload and headers) | those over 4 KiB from
// MemoryBudget; smaller ones at most the worker cap × 4 KiB". Headers
// count: a peer sending small bodies with large headers (up to
// max_payload) to a slow pattern must not hold cap × ~1 MiB uncharged.
func TestHeadersChargedToBudget(t *testing.T) {
	const (
		workers = 16
		hdr     = 512 << 10
	)
	ns := natstest.Run(t, nil)
	srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger())
	release := make(chan struct{})
	var running, heldHeaders atomic.Int64
	srv.Handle("hold", holdUntil(release, func(r *rpc.Request) {
		n := 0
		for k, vs := range r.Header() {
			for _, v := range vs {
				n += len(k) + len(v)
			}
		}
		heldHeaders.Add(int64(n))
		running.Add(1)
	}))
	natstest.Serve(t, srv, ns.ClientURL(), natsrpc.WithMaxConcurrent(workers))
	defer close(release)

	attacker := connect(t, ns.ClientURL())
	pad := strings.Repeat("x", hdr)
	for i := range workers {
		m := nats.NewMsg("hold")
		m.Reply = fmt.Sprintf("_INBOX.h.%d", i)
		m.Header.Set("X-Pad", pad)
		m.Data = fmt.Appendf(nil, `{"pattern":"hold","data":1,"id":"%d"}`, i)
		if err := attacker.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	attacker.Flush()
	deadline := time.Now().Add(20 * time.Second)
	for running.Load() < workers && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	charged := srv.GetMetrics().Limits.MemoryHeldBytes
	bound := int64(workers*4<<10) + charged
	t.Logf("%d handlers running, holding %d KiB of headers; charged to MemoryBudget: %d", running.Load(), heldHeaders.Load()>>10, charged)
	if h := heldHeaders.Load(); h > bound {
		t.Errorf("running handlers hold %d KiB of a peer's message bytes (headers) with %d KiB charged to MemoryBudget; documented: at most the worker cap × 4 KiB (%d KiB) uncharged",
			h>>10, charged>>10, workers*4)
	}
}
