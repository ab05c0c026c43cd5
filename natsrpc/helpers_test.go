package natsrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// instance is one msgpattern service instance: an rpc.Server with the test
// handlers, served over NATS.
type instance struct {
	srv     *rpc.Server
	nats    *natsrpc.Server
	served  atomic.Int64 // "sum" and "slow" requests served
	started atomic.Int64 // "slow" requests begun
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startInstance serves the test handlers over the NATS server at url.
func startInstance(t testing.TB, url string, cfg rpc.Config, opts ...natsrpc.Option) *instance {
	t.Helper()
	if cfg.RateLimitPerSec == 0 {
		cfg.RateLimitPerSec = -1
	}
	if cfg.RetryAttempts == 0 {
		cfg.RetryAttempts = -1
	}
	in := &instance{srv: rpc.NewServer(&cfg, quietLogger())}
	registerTestHandlers(in)
	in.nats = natstest.Serve(t, in.srv, url, opts...)
	return in
}

var events = make(chan string, 100)

func registerTestHandlers(in *instance) {
	s := in.srv
	s.Handle("sum", rpc.Typed(func(_ context.Context, xs []float64) (float64, error) {
		in.served.Add(1)
		var n float64
		for _, x := range xs {
			n += x
		}
		return n, nil
	}))
	s.Handle(map[string]any{"cmd": "sum2", "role": "math"}, rpc.Typed(func(_ context.Context, xs []float64) (string, error) {
		return fmt.Sprint("sum2:", len(xs)), nil
	}))
	s.Handle("ticks", rpc.Stream(func(_ context.Context, n json.RawMessage) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			for i := 3; i >= 1; i-- {
				if !yield(i, nil) {
					return
				}
			}
		}
	}))
	s.Handle("fail", rpc.Func(func(json.RawMessage) (any, error) { return nil, rpc.NewError("it failed") }))
	s.Handle("slow", rpc.Typed(func(ctx context.Context, ms int) (string, error) {
		in.started.Add(1)
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-ctx.Done():
			return "", ctx.Err()
		}
		in.served.Add(1)
		return "slept", nil
	}))
	s.Handle("stubborn", rpc.Typed(func(_ context.Context, ms int) (string, error) {
		time.Sleep(time.Duration(ms) * time.Millisecond) // ignores its context
		return "late", nil
	}))
	s.Handle("big", rpc.Typed(func(_ context.Context, n int) (string, error) {
		return string(make([]byte, n)), nil
	}))
	s.Handle("meta", rpc.HandlerFunc(func(_ context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
		return w.Send(map[string]any{"metadata": r.Metadata(), "header": r.Header()["X-Trace"], "transport": r.Transport()})
	}))
	s.Handle("echo", rpc.Typed(func(_ context.Context, s string) (string, error) { return s, nil }))
	s.HandleEvent("evt", rpc.HandlerFunc(func(_ context.Context, _ rpc.ResponseWriter, r *rpc.Request) error {
		select {
		case events <- string(r.Data):
		default:
		}
		return nil
	}))
}

func connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("nats.Connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func isRemote(err error) bool {
	var re *rpc.Error
	return errors.As(err, &re)
}

// holdUntil is a handler that calls started with its request, then holds
// it until release closes (or its context ends) and answers "ok": a
// handler running long, holding its message.
func holdUntil(release <-chan struct{}, started func(*rpc.Request)) rpc.Handler {
	return rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
		started(r)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return w.Send("ok")
	})
}
