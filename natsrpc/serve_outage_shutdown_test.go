package natsrpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestShutdownWhileServeFlushesKeepsItsDeadline: Serve holds s.mu across nc.Flush
// (socket I/O: up to nats.go's 10 s without a NATS server), and the
// rpc.Server's Shutdown hook (natsrpc.Server.Shutdown) takes s.mu before
// looking at its ctx. rpc.Server.runHooks: "ctx ending does not stop the
// wait, it tells the hooks to hurry (they must return promptly then)";
// rpc.Server.Shutdown: "If ctx ends first, … Shutdown returns ctx.Err()".
// Serve during a NATS outage racing Shutdown makes Shutdown overrun its
// ctx by Flush's 10 s.
func TestShutdownWhileServeFlushesKeepsItsDeadline(t *testing.T) {
	ns := natstest.Run(t, nil)
	newSrv := func() *rpc.Server {
		srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger())
		srv.Handle("sum", rpc.Func(func(json.RawMessage) (any, error) { return 0, nil }))
		return srv
	}
	// How many subscriptions a Serve makes before its Flush.
	probe := connect(t, ns.ClientURL())
	ps, err := natsrpc.Serve(newSrv(), probe)
	if err != nil {
		t.Fatal(err)
	}
	want := probe.NumSubscriptions()
	ps.Close()

	nc := connect(t, ns.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	ns.Shutdown() // the outage
	ns.WaitForShutdown()
	for nc.IsConnected() {
		time.Sleep(5 * time.Millisecond)
	}
	srv := newSrv()
	served := make(chan error, 1)
	go func() {
		s, err := natsrpc.Serve(srv, nc)
		if s != nil {
			s.Close()
		}
		served <- err
	}()
	// Serve has made its subscriptions: it is flushing, holding its lock.
	for nc.NumSubscriptions() < want {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = srv.Shutdown(ctx)
	took := time.Since(start)
	t.Logf("Shutdown with a 200 ms ctx: %v after %v; Serve: %v", err, took.Round(time.Millisecond), <-served)
	if took > 5*time.Second {
		t.Errorf("Shutdown with a 200 ms ctx took %v: its natsrpc hook waited for Serve's Flush", took.Round(time.Millisecond))
	}
}
