package rpc

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type countingWriter struct{ refused, served *atomic.Int64 }

func (w countingWriter) WriteReply(packet []byte, last bool) error {
	if strings.Contains(string(packet), "Rate limit exceeded") {
		w.refused.Add(1)
	} else if last {
		w.served.Add(1)
	}
	return nil
}

// TestPeerRefusalKeepsGlobalBudgetConcurrently: a NATS peer's messages are
// dispatched by several workers at once. A request its own bucket refuses
// must not spend the shared (global) bucket, whatever the interleaving:
// else one peer flooding past its own limit drains the budget every other
// peer shares.
func TestPeerRefusalKeepsGlobalBudgetConcurrently(t *testing.T) {
	const globalBurst = 1 << 20
	s := NewServer(&Config{
		RateLimitPerSec: 1, RateLimitBurst: 1, // each peer: one request, then one a second
		GlobalRateLimitPerSec: 1, GlobalRateLimitBurst: globalBurst,
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Handle("x", Func(func(json.RawMessage) (any, error) { return 1, nil }))
	var refused, served atomic.Int64
	w := countingWriter{&refused, &served}
	packet := []byte(`{"pattern":"x","data":1,"id":"1"}`)
	start := time.Now()
	const rounds, workers = 3000, 8
	for range rounds {
		peer := s.NewPeer("nats", nil) // one fresh token
		var ready, wg sync.WaitGroup
		gate := make(chan struct{})
		ready.Add(workers)
		wg.Add(workers)
		for range workers {
			go func() {
				defer wg.Done()
				ready.Done()
				<-gate
				s.Dispatch(context.Background(), Message{Packet: packet, Peer: peer}, w)
			}()
		}
		ready.Wait()
		close(gate)
		wg.Wait()
	}
	elapsed := time.Since(start)
	spent := globalBurst - s.limiter.TokensAt(monoTime(monotime())) + elapsed.Seconds()*1 // refill at 1/s
	t.Logf("served %d, refused %d, global tokens spent %.0f", served.Load(), refused.Load(), spent)
	// Each peer's bucket holds one token (plus what 1/s refills meanwhile):
	// only served requests may spend the shared bucket.
	if extra := spent - float64(served.Load()); extra >= 1 {
		t.Fatalf("the global bucket lost %.0f tokens to requests refused by their peer's own limit (%d served, %d refused)",
			extra, served.Load(), refused.Load())
	}
}
