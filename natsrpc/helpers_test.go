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

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// runNATS starts an embedded NATS server on a free loopback port; opts may
// adjust its options (cluster, max_payload). It is shut down at cleanup.
func runNATS(t testing.TB, adjust func(*natsserver.Options)) *natsserver.Server {
	t.Helper()
	opts := &natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true}
	if adjust != nil {
		adjust(opts)
	}
	ns, err := natsserver.NewServer(opts)
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns
}

// instance is one msgpattern service instance: an rpc.Server with the test
// handlers, served over NATS.
type instance struct {
	srv    *rpc.Server
	nats   *natsrpc.Server
	served atomic.Int64 // "sum" and "slow" requests served
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
	ns, err := natsrpc.Connect(in.srv, url, opts...)
	if err != nil {
		t.Fatalf("natsrpc.Connect: %v", err)
	}
	in.nats = ns
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		in.srv.Shutdown(ctx)
		in.nats.Close()
	})
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
	s.HandleEvent("evt", rpc.HandlerFunc(func(_ context.Context, _ rpc.ResponseWriter, r *rpc.Request) error {
		select {
		case events <- string(r.Data):
		default:
		}
		return nil
	}))
}

// dialClient returns a client over a connection of its own to url.
func dialClient(t testing.TB, url string, opts ...natsrpc.ClientOption) *natsrpc.Client {
	t.Helper()
	c, err := natsrpc.Dial(url, opts...)
	if err != nil {
		t.Fatalf("natsrpc.Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
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
