package natsrpc_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestMaxHandlersPerTransport: Config.MaxHandlers applies per transport
// (rpc/config.go, docs/SERVER.md): TCP runs at most MaxConnections +
// MaxHandlers handlers, and each natsrpc.Server at most MaxHandlers
// workers, so an rpc.Server serving both runs at most MaxConnections +
// 2 × MaxHandlers. Here NATS must hold its third message in the
// subscription (one running, one in the callback at the cap, one pending).
func TestMaxHandlersPerTransport(t *testing.T) {
	ns := natstest.Run(t, nil)
	cfg := rpc.Config{Addr: "127.0.0.1:0", MaxHandlers: 1, MaxConnections: 1, RateLimitPerSec: -1, RetryAttempts: -1}
	srv := rpc.NewServer(&cfg, quietLogger())
	release := make(chan struct{})
	var tcpRunning, natsRunning, peak, natsPeak atomic.Int64
	block := func(running *atomic.Int64) rpc.Handler {
		return rpc.Func(func(json.RawMessage) (any, error) {
			r := running.Add(1)
			if running == &natsRunning {
				for p := natsPeak.Load(); r > p && !natsPeak.CompareAndSwap(p, r); p = natsPeak.Load() {
				}
			}
			all := tcpRunning.Load() + natsRunning.Load()
			for p := peak.Load(); all > p && !peak.CompareAndSwap(p, all); p = peak.Load() {
			}
			<-release
			running.Add(-1)
			return "ok", nil
		})
	}
	srv.Handle("tcp", block(&tcpRunning))
	srv.Handle("nats", block(&natsRunning))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	ns2 := natstest.Serve(t, srv, ns.ClientURL())
	tcp, err := rpc.NewClient(srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	nc := natstest.Dial(t, ns.ClientURL())

	var wg sync.WaitGroup
	for _, call := range []struct {
		c       rpc.Caller
		pattern string
	}{{tcp, "tcp"}, {tcp, "tcp"}, {tcp, "tcp"}, {nc, "nats"}, {nc, "nats"}, {nc, "nats"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			rpc.Call[int, string](ctx, call.c, call.pattern, 1)
		}()
	}
	// Each transport at its cap: TCP one handed off and one on the reader;
	// NATS one worker, and its other two messages received but held.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		m, _ := natsrpc.PendingBytes(ns2)
		if tcpRunning.Load() == int64(cfg.MaxConnections+cfg.MaxHandlers) && natsRunning.Load() == int64(cfg.MaxHandlers) && m == 2 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	m, _ := natsrpc.PendingBytes(ns2)
	t.Logf("running: TCP %d, NATS %d (%d held pending)", tcpRunning.Load(), natsRunning.Load(), m)
	close(release)
	wg.Wait()
	if p := natsPeak.Load(); p > int64(cfg.MaxHandlers) {
		t.Errorf("%d NATS handlers ran at once with MaxHandlers %d (documented: at most MaxHandlers per natsrpc.Server)", p, cfg.MaxHandlers)
	}
	if bound := int64(cfg.MaxConnections + 2*cfg.MaxHandlers); peak.Load() > bound {
		t.Errorf("%d handlers ran at once with MaxConnections %d and MaxHandlers %d (documented: at most MaxConnections + MaxHandlers on TCP, plus MaxHandlers over NATS = %d)",
			peak.Load(), cfg.MaxConnections, cfg.MaxHandlers, bound)
	}
}
