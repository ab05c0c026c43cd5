package natsrpc_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestDroppedDuringShutdownNoRace: Server.Dropped now reads
// discovery's subscriptions (s.disc.subs) under s.mu, but Shutdown calls
// s.disc.stop() — which sets d.subs = nil — after releasing s.mu. A
// metrics scrape (Dropped) concurrent with Shutdown is a data race.
func TestDroppedDuringShutdownNoRace(t *testing.T) {
	ns := natstest.Run(t, nil)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1, RetryAttempts: -1}, quiet)
	srv.Handle("p", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error { return w.Send("ok") }))
	s, err := natsrpc.Serve(srv, nc)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			s.Dropped() // as a metrics exporter does, at any time
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.Shutdown(ctx)
	close(stop)
	<-done
}
