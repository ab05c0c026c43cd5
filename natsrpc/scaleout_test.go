package natsrpc_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// runCluster starts n embedded NATS servers routed into one cluster and
// waits until every route is up.
func runCluster(t testing.TB, n int) []*natsserver.Server {
	t.Helper()
	seed := natstest.Run(t, func(o *natsserver.Options) {
		o.Cluster = natsserver.ClusterOpts{Name: "test", Host: "127.0.0.1", Port: -1}
	})
	routes := natsserver.RoutesFromStr(fmt.Sprintf("nats://127.0.0.1:%d", seed.ClusterAddr().Port))
	out := []*natsserver.Server{seed}
	for i := 1; i < n; i++ {
		out = append(out, natstest.Run(t, func(o *natsserver.Options) {
			o.Cluster = natsserver.ClusterOpts{Name: "test", Host: "127.0.0.1", Port: -1}
			o.Routes = routes
		}))
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range out {
		for s.NumRoutes() < n-1 {
			if time.Now().After(deadline) {
				t.Fatalf("cluster routes not up: %d of %d", s.NumRoutes(), n-1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return out
}

// load makes calls calls to "sum" from workers goroutines and reports, for
// each, nil or its error, and how long it took.
func load(c rpc.Caller, calls, workers int, deadline time.Duration, during func(done int64)) (errs []error, slowest time.Duration) {
	var next, done atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(calls) {
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				start := time.Now()
				got, err := rpc.Call[[]int, int](ctx, c, "sum", []int{1, 2})
				took := time.Since(start)
				cancel()
				if err == nil && got != 3 {
					err = fmt.Errorf("wrong answer %d", got)
				}
				mu.Lock()
				errs = append(errs, err)
				slowest = max(slowest, took)
				mu.Unlock()
				if during != nil {
					during(done.Add(1))
				}
			}
		}()
	}
	wg.Wait()
	return errs, slowest
}

// TestQueueGroupShares: three instances in one queue group each serve a
// fair part of 3,000 calls, and none is lost.
func TestQueueGroupShares(t *testing.T) {
	ns := natstest.Run(t, nil)
	var ins []*instance
	for range 3 {
		ins = append(ins, startInstance(t, ns.ClientURL(), rpc.Config{}))
	}
	c := natstest.Dial(t, ns.ClientURL())
	errs, _ := load(c, 3000, 32, 10*time.Second, nil)
	for _, err := range errs {
		if err != nil {
			t.Fatalf("call failed: %v", err)
		}
	}
	var total int64
	for i, in := range ins {
		n := in.served.Load()
		total += n
		t.Logf("instance %d served %d", i, n)
		if n < 600 { // a fair share is 1000; random choice stays far above this
			t.Errorf("instance %d served only %d of 3000", i, n)
		}
	}
	if total != 3000 {
		t.Errorf("served %d in all, want 3000", total)
	}
}

// TestFailover: three instances on a three-node NATS cluster; one is
// killed abruptly (its connection dropped, no drain) in the middle of the
// load. No call is lost silently: each succeeds or fails with a clear error
// within its deadline, and the survivors serve the rest.
func TestFailover(t *testing.T) {
	nodes := runCluster(t, 3)
	var ins []*instance
	for i := range 3 {
		ins = append(ins, startInstance(t, nodes[i].ClientURL(), rpc.Config{}))
	}
	c := natstest.Dial(t, nodes[0].ClientURL())
	const deadline = 2 * time.Second
	var killed sync.Once
	errs, slowest := load(c, 3000, 32, deadline, func(done int64) {
		if done == 1000 {
			killed.Do(func() {
				victim := ins[1]
				victim.nats.Conn().Close() // abrupt: no drain, no goodbye
				victim.srv.Close()
			})
		}
	})
	var failed int
	for _, err := range errs {
		if err == nil {
			continue
		}
		failed++
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, rpc.ErrNoHandler) {
			t.Errorf("a call failed with an unclear error: %v", err)
		}
	}
	t.Logf("3000 calls, instance 1 killed after 1000: %d failed (deadline %v), slowest %v; served %d / %d / %d",
		failed, deadline, slowest, ins[0].served.Load(), ins[1].served.Load(), ins[2].served.Load())
	if slowest > deadline+time.Second {
		t.Errorf("a call took %v, past its deadline %v", slowest, deadline)
	}
	if failed > 100 {
		t.Errorf("%d calls failed; only those in flight at the kill may", failed)
	}
	// The survivors serve everything afterwards.
	errs, _ = load(c, 300, 8, deadline, nil)
	for _, err := range errs {
		if err != nil {
			t.Fatalf("after the kill: %v", err)
		}
	}
}

// TestGracefulShutdownDrains: an instance shutting down gracefully answers
// the requests it has received before it leaves, while the other instance
// takes the new ones.
func TestGracefulShutdownDrains(t *testing.T) {
	ns := natstest.Run(t, nil)
	leaving := startInstance(t, ns.ClientURL(), rpc.Config{})
	staying := startInstance(t, ns.ClientURL(), rpc.Config{})
	c := natstest.Dial(t, ns.ClientURL())
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if got, err := rpc.Call[int, string](ctx, c, "slow", 300); err != nil || got != "slept" {
				failed.Add(1)
				t.Errorf("slow call during shutdown: %q, %v", got, err)
			}
		}()
	}
	// Every request has reached an instance (a sleep here was a guess:
	// on a loaded machine the leaving one had begun none yet).
	for deadline := time.Now().Add(10 * time.Second); leaving.started.Load()+staying.started.Load() < 40; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("slow requests begun: %d of 40", leaving.started.Load()+staying.started.Load())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := leaving.srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	wg.Wait()
	t.Logf("leaving served %d, staying %d", leaving.served.Load(), staying.served.Load())
	if leaving.served.Load() == 0 {
		t.Error("the leaving instance served nothing: the test did not exercise a drain")
	}
	// New calls go to the staying instance.
	if _, err := rpc.Call[[]int, int](ctxT(t, 5*time.Second), c, "sum", []int{1}); err != nil {
		t.Errorf("after the shutdown: %v", err)
	}
}

// TestNATSRestart: the NATS server restarts; client and service reconnect
// and resubscribe, and calls succeed again.
func TestNATSRestart(t *testing.T) {
	ns := natstest.Run(t, nil)
	port := ns.Addr().(*net.TCPAddr).Port
	url := ns.ClientURL()
	opts := natsrpc.WithNATSOptions(nats.ReconnectWait(50*time.Millisecond), nats.MaxReconnects(-1))
	startInstance(t, url, rpc.Config{}, opts)
	c := natstest.Dial(t, url, natsrpc.WithConnOptions(opts))
	if _, err := rpc.Call[[]int, int](ctxT(t, 5*time.Second), c, "sum", []int{1}); err != nil {
		t.Fatal(err)
	}
	ns.Shutdown()
	ns.WaitForShutdown()
	natstest.Run(t, func(opt *natsserver.Options) { opt.Port = port })
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := rpc.Call[[]int, int](ctxT(t, time.Second), c, "sum", []int{1})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no call succeeded within 10s of the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestShutdownWithoutNATS: an instance whose NATS server is gone shuts down
// at once, not at its context's deadline.
func TestShutdownWithoutNATS(t *testing.T) {
	ns := natstest.Run(t, nil)
	in := startInstance(t, ns.ClientURL(), rpc.Config{})
	ns.Shutdown()
	ns.WaitForShutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	in.srv.Shutdown(ctx)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Shutdown without a NATS server took %v", d)
	}
}

// TestConcurrencyCap: a flood of slow requests holds at most the
// concurrency cap of workers (the subscriptions are not read meanwhile,
// nothing piles up as goroutines), and an honest caller is served once
// workers free, every flooded request answered too.
func TestConcurrencyCap(t *testing.T) {
	ns := natstest.Run(t, nil)
	const maxConcurrent = 4
	startInstance(t, ns.ClientURL(), rpc.Config{}, natsrpc.WithMaxConcurrent(maxConcurrent))
	c := natstest.Dial(t, ns.ClientURL())
	base := runtime.NumGoroutine()
	var wg sync.WaitGroup
	var failed atomic.Int32
	var peak atomic.Int64
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if _, err := rpc.Call[int, string](ctx, c, "slow", 100); err != nil {
				failed.Add(1)
			}
		}()
	}
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				peak.Store(max(peak.Load(), int64(runtime.NumGoroutine()-base)))
			}
		}
	}()
	// The honest caller, while the flood runs: answered within the time
	// the flood takes to drain through 4 workers (40 × 100 ms / 4 ≈ 1 s).
	start := time.Now()
	if got, err := rpc.Call[[]int, int](ctxT(t, 10*time.Second), c, "sum", []int{1, 2}); err != nil || got != 3 {
		t.Errorf("honest call: %v, %v", got, err)
	}
	t.Logf("honest call answered after %v with 40 slow requests and %d workers", time.Since(start), maxConcurrent)
	wg.Wait()
	close(stop)
	<-sampled
	if failed.Load() != 0 {
		t.Errorf("%d flooded requests failed", failed.Load())
	}
	// 40 callers' goroutines are the test's own; the server adds at most
	// its workers (and a few timers).
	if p := peak.Load(); p > 40+maxConcurrent+20 {
		t.Errorf("goroutines peaked at +%d: the server did not hold to %d workers", p, maxConcurrent)
	}
}
