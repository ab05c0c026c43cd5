package natsrpc_test

import (
	"context"
	"encoding/json"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestIdleShutdownWithEndedContext: natsrpc.Server.Shutdown "returns
// when they [the messages already received] are answered or ctx ends". With
// no message received and nothing running, there is nothing to wait for,
// and rpc.Server.Shutdown returns nil in that state whatever its ctx; but
// natsrpc's wait races running.Wait (in a goroutine) against ctx.Done in
// one select, so an idle server's Shutdown with an ended context returns
// context.Canceled most of the time.
func TestIdleShutdownWithEndedContext(t *testing.T) {
	ns := natstest.Run(t, nil)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	failed := 0
	for range 20 {
		srv := rpc.NewServer(&rpc.Config{}, quietLogger())
		srv.Handle("sum", rpc.Func(func(json.RawMessage) (any, error) { return 0, nil }))
		nsrv, err := natsrpc.Connect(srv, ns.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		if err := nsrv.Shutdown(ended); err != nil {
			failed++
		}
		srv.Close()
	}
	if failed > 0 {
		t.Errorf("Shutdown of an idle natsrpc.Server with an ended context failed %d/20 times; want nil (nothing was running)", failed)
	}
}

// TestShutdownReleasesServer: Serve registers an OnShutdown hook on
// the rpc.Server that holds the natsrpc.Server, and nothing removes it:
// not Server.Shutdown/Close ("to stop serving NATS alone"), not a Serve
// that failed. A long-lived rpc.Server that serves NATS again and again
// (a new connection after credentials rotate, a reconnect policy of the
// application's) keeps every natsrpc.Server it ever had — its connection,
// subscriptions, peers (up to 4096 rate limiters) and discovery state —
// and runs all their hooks at its own Shutdown.
func TestShutdownReleasesServer(t *testing.T) {
	ns := natstest.Run(t, nil)
	srv := rpc.NewServer(&rpc.Config{}, quietLogger())
	defer srv.Close()
	srv.Handle("sum", rpc.Func(func(json.RawMessage) (any, error) { return 0, nil }))
	var ptrs []weak.Pointer[natsrpc.Server]
	for range 5 {
		nsrv, err := natsrpc.Connect(srv, ns.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := nsrv.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		ptrs = append(ptrs, weak.Make(nsrv))
	}
	alive := 0
	for range 3 {
		runtime.GC()
	}
	for _, p := range ptrs {
		if p.Value() != nil {
			alive++
		}
	}
	if alive > 0 {
		t.Errorf("%d of 5 natsrpc.Servers shut down and dropped are still reachable (from the rpc.Server's OnShutdown hooks)", alive)
	}
}

// TestShutdownCutShortReleasesServer: only a Shutdown whose wait succeeded
// let go of the Server, so one cut short by its context (and every Close
// with a handler running) left it reachable from the rpc.Server's hook for
// the rpc.Server's life, though its handlers all returned since.
func TestShutdownCutShortReleasesServer(t *testing.T) {
	ns := natstest.Run(t, nil)
	srv := rpc.NewServer(&rpc.Config{}, quietLogger())
	defer srv.Close()
	release, started, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	srv.Handle("hold", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
		close(started)
		<-release // ignores its context
		defer close(done)
		return w.Send("ok")
	}))
	nsrv, err := natsrpc.Connect(srv, ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	cl, err := natsrpc.Dial(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	go cl.Send(context.Background(), "hold", nil, nil)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := nsrv.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown returned nil while a handler ran")
	}
	close(release)
	<-done
	p := weak.Make(nsrv)
	nsrv = nil
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		runtime.GC()
		if p.Value() == nil {
			return
		}
	}
	t.Error("a stopped natsrpc.Server whose handlers all returned is still reachable (the rpc.Server's OnShutdown hook)")
}
