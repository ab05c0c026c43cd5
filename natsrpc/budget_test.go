package natsrpc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestPayloadsHeldToBudget: a NATS message's payload is held until its
// handler returns, so large ones draw on the server's MemoryBudget, as TCP
// frames do: the subscription waits for room instead of starting a worker
// per message (1500 requests of 1000 KiB to a slow handler held 1.5 GiB
// against a 512 MiB budget). Small requests on other subjects go on.
func TestPayloadsHeldToBudget(t *testing.T) {
	t.Parallel()
	const (
		budget = 4 << 20
		size   = 256 << 10
		n      = 40 // 10 MiB
	)
	// The messages not yet taken wait in nats.go's pending queue, which
	// holds at least max_payload: room for all that the budget holds back.
	ns := natstest.Run(t, func(o *natsserver.Options) { o.MaxPayload = 8 << 20 })
	srv := rpc.NewServer(&rpc.Config{MemoryBudget: budget, RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger())
	release := make(chan struct{})
	var running, peak, done atomic.Int64
	srv.Handle("hold", rpc.Func(func(json.RawMessage) (any, error) {
		r := running.Add(1)
		for p := peak.Load(); r > p && !peak.CompareAndSwap(p, r); p = peak.Load() {
		}
		<-release
		running.Add(-1)
		done.Add(1)
		return "ok", nil
	}))
	srv.Handle("sum", rpc.Typed(func(_ context.Context, xs []float64) (float64, error) { return xs[0] + xs[1], nil }))
	natstest.Serve(t, srv, ns.ClientURL())

	attacker := connect(t, ns.ClientURL())
	pad := strings.Repeat("x", size)
	for i := range n {
		body := fmt.Sprintf(`{"pattern":"hold","data":"%s","id":"%d"}`, pad, i)
		if err := attacker.PublishRequest("hold", fmt.Sprintf("_INBOX.attacker%d", i), []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	attacker.Flush()
	var held int64
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		held = max(held, srv.GetMetrics().Limits.MemoryHeldBytes)
	}
	c := natstest.Dial(t, ns.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if got, err := rpc.Call[[]float64, float64](ctx, c, "sum", []float64{20, 22}); err != nil || got != 42 {
		t.Errorf("honest call: %v, %v", got, err)
	}
	if max := int64(budget / size); peak.Load() > max {
		t.Errorf("%d handlers held %d KiB payloads at once with a %d MiB budget; want at most %d",
			peak.Load(), size>>10, budget>>20, max)
	}
	if held > budget {
		t.Errorf("memory held %d KiB, over the budget (%d KiB)", held>>10, budget>>10)
	}
	t.Logf("%d handlers at once, %d KiB held at most", peak.Load(), held>>10)
	close(release)
	deadline := time.Now().Add(20 * time.Second)
	for done.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if done.Load() != n {
		t.Errorf("%d of %d served once the handlers were released", done.Load(), n)
	}
	for deadline := time.Now().Add(5 * time.Second); srv.GetMetrics().Limits.MemoryHeldBytes != 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if h := srv.GetMetrics().Limits.MemoryHeldBytes; h != 0 {
		t.Errorf("memory held %d after all were served", h)
	}
}
