package natsrpc

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestMessageAtWorkerIdleExit: a message that reaches a subscription at the
// cap just as the last worker ends (its idle time up) is still served. The
// callback used to wait for an idle worker only, and none was left: the
// subscription stalled for good. synctest's clock puts the message exactly
// at the worker's idle deadline, where the race is; it was lost in about
// half the rounds.
func TestMessageAtWorkerIdleExit(t *testing.T) {
	const rounds = 200
	stuck := 0
	for range rounds {
		synctest.Test(t, func(t *testing.T) {
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1, RetryAttempts: -1}, quiet)
			var served atomic.Int64
			srv.HandleEvent("x", rpc.HandlerFunc(func(context.Context, rpc.ResponseWriter, *rpc.Request) error {
				served.Add(1)
				return nil
			}))
			ctx, cancel := context.WithCancel(context.Background())
			s := &Server{
				rpc: srv, opts: defaultOptions(), log: quiet,
				slots: make(chan struct{}, 1), work: make(chan job), drained: make(chan struct{}), ctx: ctx, cancel: cancel,
				peers: map[string]*rpc.Peer{}, anyPeer: srv.NewPeer("nats", nil), evtPeer: srv.NewPeer("nats", nil),
			}
			s.disc = newDiscovery(s)
			deliver := s.handler(subject{name: "x", route: "x", event: true})
			msg := func() *nats.Msg { return &nats.Msg{Subject: "x", Data: []byte(`{"pattern":"x","data":1}`)} }

			deliver(msg()) // starts the one worker, which then waits workerIdle for more
			synctest.Wait()
			done := make(chan struct{})
			go func() {
				time.Sleep(workerIdle) // as the worker's idle timer fires
				deliver(msg())
				close(done)
			}()
			time.Sleep(workerIdle + time.Second)
			synctest.Wait()
			if served.Load() != 2 {
				stuck++
			}
			cancel() // frees a stranded callback, so the bubble can end
			<-done
			s.running.Wait()
			srv.Close()
		})
	}
	if stuck > 0 {
		t.Fatalf("%d of %d rounds: a message offered as the last worker ended was never served", stuck, rounds)
	}
}
