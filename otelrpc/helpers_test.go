package otelrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/internal/spantest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/otelrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// stallRelease lets the "stall" handler return: a test whose call gave up
// on it releases it then, so that its reply cannot come before.
var stallRelease = make(chan struct{}, 1)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// seen is what the test handlers saw: the span context of their context,
// the request's metadata, and the log records they wrote.
type seen struct {
	mu     sync.Mutex
	spans  map[string][]trace.SpanContext // by route
	events chan trace.SpanContext
	logs   strings.Builder
}

func (s *seen) add(route string, sc trace.SpanContext) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spans[route] = append(s.spans[route], sc)
}

func (s *seen) get(route string) []trace.SpanContext {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]trace.SpanContext(nil), s.spans[route]...)
}

func (s *seen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.Write(p)
}

func (s *seen) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// newTracedServer is an rpc.Server (not started) with the tracing
// middleware of tp and the test handlers:
//
//	ok      "pong"
//	rpcerr  rpc.NewError("nope")
//	objerr  rpc.NewErrorObject({status: 400, message: "bad"})
//	fail    a plain error
//	panic   a panic
//	typed   rpc.Typed over []int: other data does not decode
//	late    returns "late" after 150 ms, ignoring its 50 ms timeout
//	lateerr returns a plain error after 150 ms, ignoring its 50 ms timeout
//	stall   returns "stalled" once released (stallRelease), or at its
//	        10 s timeout
//	ticks   a stream of 3, 2, 1
//	whoami  the trace and span ids and trace state of its context and the
//	        request's metadata; it logs a line with its context
//	relay   calls "ok" through next (a traced Caller) with its context
//	evt     an event: its span context goes to seen.events
func newTracedServer(t testing.TB, tp trace.TracerProvider, next func() rpc.Caller, opts ...otelrpc.Option) (*rpc.Server, *seen) {
	t.Helper()
	s := &seen{spans: map[string][]trace.SpanContext{}, events: make(chan trace.SpanContext, 16)}
	logger := slog.New(otelrpc.LogHandler(slog.NewTextHandler(s, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})))
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger())
	srv.Use(otelrpc.Middleware(append([]otelrpc.Option{otelrpc.WithTracerProvider(tp)}, opts...)...))
	record := func(ctx context.Context) {
		r, _ := rpc.RequestFromContext(ctx)
		s.add(r.Route, trace.SpanContextFromContext(ctx))
	}
	srv.Handle("ok", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
		record(ctx)
		return w.Send("pong")
	}))
	srv.Handle("rpcerr", rpc.Func(func(json.RawMessage) (any, error) { return nil, rpc.NewError("nope") }))
	srv.Handle("objerr", rpc.Func(func(json.RawMessage) (any, error) {
		e, err := rpc.NewErrorObject(map[string]any{"status": 400, "message": "bad"})
		if err != nil {
			return nil, err
		}
		return nil, e
	}))
	srv.Handle("fail", rpc.Func(func(json.RawMessage) (any, error) { return nil, errors.New("disk on fire") }))
	srv.Handle("panic", rpc.Func(func(json.RawMessage) (any, error) { panic("kaboom") }))
	srv.Handle("typed", rpc.Typed(func(_ context.Context, xs []int) (int, error) { return len(xs), nil }))
	srv.Handle("late", rpc.Func(func(json.RawMessage) (any, error) {
		time.Sleep(150 * time.Millisecond)
		return "late", nil
	}), rpc.WithTimeout(50*time.Millisecond))
	srv.Handle("lateerr", rpc.Func(func(json.RawMessage) (any, error) {
		time.Sleep(150 * time.Millisecond)
		return nil, errors.New("db: connection reset")
	}), rpc.WithTimeout(50*time.Millisecond))
	srv.Handle("stall", rpc.ContextFunc(func(ctx context.Context, _ json.RawMessage) (any, error) {
		select {
		case <-stallRelease:
		case <-ctx.Done():
		}
		return "stalled", nil
	}), rpc.WithTimeout(10*time.Second))
	srv.Handle("ticks", rpc.Stream(func(ctx context.Context, _ json.RawMessage) iter.Seq2[int, error] {
		record(ctx)
		return func(yield func(int, error) bool) {
			for i := 3; i >= 1; i-- {
				if !yield(i, nil) {
					return
				}
			}
		}
	}))
	srv.Handle("whoami", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
		record(ctx)
		sc := trace.SpanContextFromContext(ctx)
		logger.InfoContext(ctx, "serving", "route", r.Route)
		return w.Send(map[string]any{"trace": sc.TraceID().String(), "span": sc.SpanID().String(), "tracestate": sc.TraceState().String(), "metadata": r.Metadata()})
	}))
	srv.Handle("relay", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
		record(ctx)
		var got string
		if err := next().Send(ctx, "ok", nil, &got); err != nil {
			return err
		}
		return w.Send("relayed " + got)
	}))
	srv.HandleEvent("evt", rpc.HandlerFunc(func(ctx context.Context, _ rpc.ResponseWriter, _ *rpc.Request) error {
		s.events <- trace.SpanContextFromContext(ctx)
		return nil
	}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv, s
}

// startTCP starts srv on its loopback port and returns a client of it.
func startTCP(t testing.TB, srv *rpc.Server) *rpc.Client {
	t.Helper()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := rpc.NewClient(srv.Addr().String(), rpc.WithClientLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// serveNATS serves srv over the NATS server ns and returns a natsrpc client
// of it.
func serveNATS(t testing.TB, srv *rpc.Server, ns *natsserver.Server) *natsrpc.Client {
	t.Helper()
	natstest.Serve(t, srv, ns.ClientURL())
	return natstest.Dial(t, ns.ClientURL())
}

// find returns the one span named name of kind kind.
func find(t testing.TB, spans tracetest.SpanStubs, name string, kind trace.SpanKind) tracetest.SpanStub {
	t.Helper()
	return spantest.One(t, spans, fmt.Sprintf("%q of kind %v", name, kind), func(s tracetest.SpanStub) bool {
		return s.Name == name && s.SpanKind == kind
	})
}

// attrs returns a span's attributes by key.
func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value, len(s.Attributes))
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// checkAttrs requires s to have want's attributes (values as Value.String()
// prints them), and none of absent's keys.
func checkAttrs(t testing.TB, s tracetest.SpanStub, want map[string]string, absent ...string) {
	t.Helper()
	got := attrs(s)
	for k, v := range want {
		g, ok := got[attribute.Key(k)]
		if !ok {
			t.Errorf("span %s: no attribute %s (want %q); has %v", s.Name, k, v, s.Attributes)
		} else if g.String() != v {
			t.Errorf("span %s: %s = %q, want %q", s.Name, k, g.String(), v)
		}
	}
	for _, k := range absent {
		if g, ok := got[attribute.Key(k)]; ok {
			t.Errorf("span %s: attribute %s = %q, want none", s.Name, k, g.String())
		}
	}
}

// merged is a new map with the entries of ms, a later map's winning.
func merged(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

// Traceparents used by the tests.
const (
	remoteTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	remoteSpan  = "00f067aa0ba902b7"
	traceparent = "00-" + remoteTrace + "-" + remoteSpan + "-01"
	otherTrace  = "0af7651916cd43dd8448eb211c80319c"
	otherSpan   = "b7ad6b7169203331"
	otherParent = "00-" + otherTrace + "-" + otherSpan + "-01"
)

func remoteParent() trace.SpanContext {
	tid, _ := trace.TraceIDFromHex(remoteTrace)
	sid, _ := trace.SpanIDFromHex(remoteSpan)
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
}

func otherRemoteParent() trace.SpanContext {
	tid, _ := trace.TraceIDFromHex(otherTrace)
	sid, _ := trace.SpanIDFromHex(otherSpan)
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
}
