package natsrpc_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/internal/streamtest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestDecodedHeadersCharged: nats.go keeps a message's headers decoded
// too, a map of []string that is not bounded by the encoded bytes: a
// header block of many short keys ("0:\r\n1:\r\n…") decodes to ~15× its
// size, and was charged twice its size.
// docs/SERVER.md: "NATS messages held by running handlers (payload and
// headers) | those over 4 KiB from MemoryBudget". What the running
// handlers' messages hold must stay near what is charged.
func TestDecodedHeadersCharged(t *testing.T) {
	const workers = 8
	ns := natstest.Run(t, nil)
	srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1, RetryAttempts: -1, MemoryBudget: 256 << 20}, quietLogger())
	release := make(chan struct{})
	var running atomic.Int64
	srv.Handle("hold", holdUntil(release, func(*rpc.Request) { running.Add(1) }))
	natstest.Serve(t, srv, ns.ClientURL(), natsrpc.WithMaxConcurrent(workers))
	defer close(release)

	attacker, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	base := int64(streamtest.HeapAlloc())
	func() {
		h := nats.Header{}
		for i := 0; i < 120000; i++ { // ~850 KB encoded: under max_payload
			h[fmt.Sprintf("%x", i)] = []string{""}
		}
		for i := range workers {
			m := &nats.Msg{Subject: "hold", Reply: fmt.Sprintf("_INBOX.h.%d", i), Header: h,
				Data: fmt.Appendf(nil, `{"pattern":"hold","data":1,"id":"%d"}`, i)}
			if err := attacker.PublishMsg(m); err != nil {
				t.Fatal(err)
			}
		}
		attacker.Flush()
	}()
	deadline := time.Now().Add(60 * time.Second)
	for running.Load() < workers && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if running.Load() < workers {
		t.Fatalf("%d of %d handlers running", running.Load(), workers)
	}
	attacker.Close() // its buffers are not the server's
	held := int64(streamtest.HeapAlloc()) - base
	charged := srv.GetMetrics().Limits.MemoryHeldBytes
	t.Logf("%d handlers running: heap grew by %d MiB; charged to MemoryBudget: %d MiB", workers, held>>20, charged>>20)
	if slack := int64(16 << 20); held > 2*charged+slack {
		t.Errorf("the messages of %d running handlers hold %d MiB, %d MiB charged to MemoryBudget: decoded headers are charged as twice their encoded size but cost many times that",
			workers, held>>20, charged>>20)
	}
}
