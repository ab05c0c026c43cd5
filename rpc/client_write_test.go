package rpc

import (
	"context"
	"sync"
	"testing"
)

// TestClientCoalescesConcurrentRequests: with many calls in flight on one
// connection, requests leave in shared writes (the writer goroutine yields
// first, so the callers ready to run queue theirs), not one system call
// per call, which was most of a busy client's CPU.
func TestClientCoalescesConcurrentRequests(t *testing.T) {
	srv := startIdleTestServer(t, 0, Config{})
	c, err := NewClient(srv.Addr().String(), WithPool(1, false), WithEagerConnect())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cc, err := c.pick().get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const callers, each = 64, 50
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				var out float64
				if err := c.Send(context.Background(), "sum", []float64{1, 2}, &out); err != nil || out != 3 {
					t.Errorf("Send = %v, %v", out, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	cc.out.mu.Lock()
	writes := cc.out.gen
	cc.out.mu.Unlock()
	calls := uint64(callers * each)
	t.Logf("%d calls in %d writes (%.1f calls per write)", calls, writes, float64(calls)/float64(writes))
	// Before the writer goroutine: 1.5–2.7 calls per write; with it, 10–18.
	if writes > calls/4 {
		t.Errorf("%d calls took %d writes; want at most a quarter as many", calls, writes)
	}
}
