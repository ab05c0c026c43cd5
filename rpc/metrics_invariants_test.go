package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// invWant is what one way of ending a message must leave in the metrics.
type invWant struct {
	requests, events uint64
	kinds            rpc.ErrorCounts
	patternErrors    uint64 // summed over the patterns
}

// checkMetricInvariants asserts what the Metrics docs promise of a
// snapshot taken once everything has ended.
func checkMetricInvariants(t *testing.T, m rpc.Metrics) {
	t.Helper()
	e := m.ErrorByKind
	sum := e.Timeout + e.RateLimited + e.RateLimitedEvents + e.NoHandler + e.NoEventHandler + e.BadFrame + e.Framing +
		e.Decode + e.Handler + e.RPC + e.Panic + e.Encode + e.Canceled + e.ShuttingDown + e.DataTooLarge
	if m.Errors != sum {
		t.Errorf("errors %d, sum of the kinds (late_results_dropped and shutdown_cut left out) %d", m.Errors, sum)
	}
	if m.InFlight != 0 || m.Limits.HandedOffRunning != 0 {
		t.Errorf("in_flight %d, handed_off_running %d once everything ended; want 0", m.InFlight, m.Limits.HandedOffRunning)
	}
	var count, events uint64
	var totalMs float64
	for _, p := range m.Patterns {
		count += p.Count
		if p.Event {
			events += p.Count
		}
		totalMs += p.TotalLatencyMs
		var b uint64
		for _, l := range p.Latency {
			b += l.Count
		}
		if b != p.Count {
			t.Errorf("pattern %s: histogram holds %d, count %d", p.Pattern, b, p.Count)
		}
		if p.Errors > p.Count {
			t.Errorf("pattern %s: errors %d > count %d", p.Pattern, p.Errors, p.Count)
		}
	}
	if count != m.Requests+m.Events || events != m.Events {
		t.Errorf("patterns count %d (events %d); requests %d + events %d", count, events, m.Requests, m.Events)
	}
	if math.Abs(totalMs-m.ProcessingTimeMs) > 1e-3*math.Max(1, totalMs) {
		t.Errorf("patterns' total latency %.3f ms, processing_time_ms %.3f", totalMs, m.ProcessingTimeMs)
	}
	var tr, te uint64
	for _, x := range m.Transports {
		tr, te = tr+x.Requests, te+x.Events
	}
	if tr != m.Requests || te != m.Events {
		t.Errorf("transports %d/%d, totals %d/%d", tr, te, m.Requests, m.Events)
	}
}

func patternErrors(m rpc.Metrics) (n uint64) {
	for _, p := range m.Patterns {
		n += p.Errors
	}
	return n
}

// TestMetricsInvariantsByEnding drives every way a message can end and
// checks the counts it leaves, and the documented sums, once settled.
func TestMetricsInvariantsByEnding(t *testing.T) {
	t.Parallel()
	waitCtx := rpc.HandlerFunc(func(ctx context.Context, _ rpc.ResponseWriter, _ *rpc.Request) error {
		<-ctx.Done()
		return ctx.Err()
	})
	register := func(s *rpc.Server) {
		s.Handle("ok", rpc.Func(func(json.RawMessage) (any, error) { return 1, nil }))
		s.Handle("err", rpc.Func(func(json.RawMessage) (any, error) { return nil, errors.New("boom") }))
		s.Handle("rpcerr", rpc.Func(func(json.RawMessage) (any, error) { return nil, rpc.NewError("no") }))
		s.Handle("panic", rpc.Func(func(json.RawMessage) (any, error) { panic("p") }))
		s.Handle("goexit", rpc.Func(func(json.RawMessage) (any, error) { runtime.Goexit(); return nil, nil }))
		s.Handle("goexitlong", rpc.HandlerFunc(func(ctx context.Context, _ rpc.ResponseWriter, _ *rpc.Request) error {
			time.Sleep(50 * time.Millisecond) // handed off
			runtime.Goexit()
			return nil
		}))
		s.Handle("late", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
			<-ctx.Done()
			return w.Send("late")
		}), rpc.WithTimeout(20*time.Millisecond))
		s.Handle("giveup", waitCtx, rpc.WithTimeout(20*time.Millisecond))
		s.Handle("wait", waitCtx, rpc.WithTimeout(time.Hour))
		s.Handle("small", rpc.Func(func(json.RawMessage) (any, error) { return 1, nil }), rpc.WithMaxDataBytes(2))
		s.Handle("decode", rpc.Typed(func(_ context.Context, in int) (int, error) { return in, nil }))
		s.Handle("obs", rpc.Stream(func(context.Context, json.RawMessage) iter.Seq2[int, error] {
			return func(yield func(int, error) bool) { _ = yield(1, nil) && yield(2, nil) }
		}))
		s.Handle("obserr", rpc.Stream(func(context.Context, json.RawMessage) iter.Seq2[int, error] {
			return func(yield func(int, error) bool) { _ = yield(1, nil) && yield(0, rpc.NewError("late")) }
		}))
		s.Handle("obswait", rpc.Stream(func(ctx context.Context, _ json.RawMessage) iter.Seq2[int, error] {
			return func(yield func(int, error) bool) {
				if yield(1, nil) {
					<-ctx.Done()
				}
			}
		}), rpc.WithTimeout(time.Hour))
		s.HandleEvent("evtwait", waitCtx, rpc.WithTimeout(20*time.Millisecond))
		s.HandleEvent("evthour", waitCtx, rpc.WithTimeout(time.Hour))
		s.Handle("transient", rpc.Func(func(json.RawMessage) (any, error) { return nil, rpc.Transient(errors.New("again")) }))
		s.HandleEvent("evt", rpc.HandlerFunc(func(context.Context, rpc.ResponseWriter, *rpc.Request) error { return nil }))
		s.HandleEvent("evterr", rpc.HandlerFunc(func(context.Context, rpc.ResponseWriter, *rpc.Request) error { return errors.New("x") }))
		s.HandleEvent("evtpanic", rpc.HandlerFunc(func(context.Context, rpc.ResponseWriter, *rpc.Request) error { panic("p") }))
		s.HandleEvent("evtgoexit", rpc.HandlerFunc(func(context.Context, rpc.ResponseWriter, *rpc.Request) error { runtime.Goexit(); return nil }))
	}
	// tcp sends one frame and reads one reply.
	tcp := func(pattern, data string) func(t *testing.T, s *rpc.Server, stop func() error) {
		return func(t *testing.T, s *rpc.Server, _ func() error) {
			c := dial(t, s)
			defer c.close()
			c.write(reqFrame(`"`+pattern+`"`, data, `1`))
			for !strings.Contains(c.readFrame(), "isDisposed") {
			}
		}
	}
	tcpEvent := func(pattern string) func(t *testing.T, s *rpc.Server, stop func() error) {
		return func(t *testing.T, s *rpc.Server, _ func() error) {
			c := dial(t, s)
			c.write(reqFrame(`"`+pattern+`"`, `null`, ``))
			c.close() // an event runs on when its sender closes
		}
	}
	dispatch := func(pattern string, ctx func() (context.Context, context.CancelFunc)) func(t *testing.T, s *rpc.Server, stop func() error) {
		return func(t *testing.T, s *rpc.Server, _ func() error) {
			c, cancel := ctx()
			defer cancel()
			done := make(chan struct{})
			go func() { // a goroutine of its own: Goexit ends it
				defer close(done)
				s.Dispatch(c, rpc.Message{Packet: []byte(reqBody(`"`+pattern+`"`, `null`, `1`))}, newRecorder())
			}()
			<-done
		}
	}
	bg := func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }
	short := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 20*time.Millisecond)
	}
	// closeAfterStart writes a request, waits for it to run, closes.
	closeAfterStart := func(pattern string, first bool) func(t *testing.T, s *rpc.Server, stop func() error) {
		return func(t *testing.T, s *rpc.Server, _ func() error) {
			c := dial(t, s)
			c.write(reqFrame(`"`+pattern+`"`, `null`, `1`))
			if first {
				c.readFrame()
			} else if !eventually(5*time.Second, func() bool { return s.GetMetrics().InFlight == 1 }) {
				t.Fatal("never ran")
			}
			c.close()
		}
	}
	// forcedShutdown starts pattern and shuts down with a context that ends.
	forcedShutdown := func(pattern string) func(t *testing.T, s *rpc.Server, stop func() error) {
		return func(t *testing.T, s *rpc.Server, _ func() error) {
			c := dial(t, s)
			c.write(reqFrame(`"`+pattern+`"`, `null`, `1`))
			if !eventually(5*time.Second, func() bool { return s.GetMetrics().InFlight == 1 }) {
				t.Fatal("never ran")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			if err := s.Shutdown(ctx); err == nil {
				t.Fatal("Shutdown returned nil")
			}
		}
	}
	cases := []struct {
		name  string
		cfg   rpc.Config
		drive func(t *testing.T, s *rpc.Server, stop func() error)
		want  invWant
	}{
		{"success", rpc.Config{}, tcp("ok", `null`), invWant{requests: 1}},
		{"handler error", rpc.Config{}, tcp("err", `null`), invWant{requests: 1, kinds: rpc.ErrorCounts{Handler: 1}, patternErrors: 1}},
		{"rpc error", rpc.Config{}, tcp("rpcerr", `null`), invWant{requests: 1, kinds: rpc.ErrorCounts{RPC: 1}, patternErrors: 1}},
		{"panic", rpc.Config{}, tcp("panic", `null`), invWant{requests: 1, kinds: rpc.ErrorCounts{Panic: 1}, patternErrors: 1}},
		{"goexit", rpc.Config{}, tcp("goexit", `null`), invWant{requests: 1, kinds: rpc.ErrorCounts{Panic: 1}, patternErrors: 1}},
		{"goexit handed off", rpc.Config{}, tcp("goexitlong", `null`), invWant{requests: 1, kinds: rpc.ErrorCounts{Panic: 1}, patternErrors: 1}},
		{"timeout, late value", rpc.Config{}, tcp("late", `null`), invWant{requests: 1, kinds: rpc.ErrorCounts{Timeout: 1, LateResultsDropped: 1}, patternErrors: 1}},
		{"timeout, gave up", rpc.Config{}, tcp("giveup", `null`), invWant{requests: 1, kinds: rpc.ErrorCounts{Timeout: 1}, patternErrors: 1}},
		{"data too large", rpc.Config{}, tcp("small", `"abcdef"`), invWant{requests: 1, kinds: rpc.ErrorCounts{DataTooLarge: 1}, patternErrors: 1}},
		{"decode", rpc.Config{}, tcp("decode", `"x"`), invWant{requests: 1, kinds: rpc.ErrorCounts{Decode: 1}, patternErrors: 1}},
		{"stream", rpc.Config{}, tcp("obs", `null`), invWant{requests: 1}},
		{"stream error", rpc.Config{}, tcp("obserr", `null`), invWant{requests: 1, kinds: rpc.ErrorCounts{RPC: 1}, patternErrors: 1}},
		{"canceled by close", rpc.Config{}, closeAfterStart("wait", false), invWant{requests: 1, kinds: rpc.ErrorCounts{Canceled: 1}, patternErrors: 1}},
		{"stream, peer closed", rpc.Config{}, closeAfterStart("obswait", true), invWant{requests: 1}},
		{"unknown pattern", rpc.Config{}, func(t *testing.T, s *rpc.Server, _ func() error) {
			c := dial(t, s)
			defer c.close()
			c.write(reqFrame(`"nope"`, `null`, `1`))
			c.readFrame()
		}, invWant{kinds: rpc.ErrorCounts{NoHandler: 1}}},
		{"unknown event", rpc.Config{}, func(t *testing.T, s *rpc.Server, _ func() error) {
			c := dial(t, s)
			defer c.close()
			c.write(reqFrame(`"nope"`, `null`, ``) + reqFrame(`"ok"`, `null`, `1`))
			c.readFrame()
		}, invWant{requests: 1, kinds: rpc.ErrorCounts{NoEventHandler: 1}}},
		{"invalid json", rpc.Config{}, func(t *testing.T, s *rpc.Server, _ func() error) {
			c := dial(t, s)
			defer c.close()
			c.write(frame(`{"pattern":`) + reqFrame(`"ok"`, `null`, `1`))
			c.readFrame()
		}, invWant{requests: 1, kinds: rpc.ErrorCounts{BadFrame: 1}}},
		{"rate limited", rpc.Config{RateLimitPerSec: 1, RateLimitBurst: 1}, func(t *testing.T, s *rpc.Server, _ func() error) {
			c := dial(t, s)
			defer c.close()
			c.write(reqFrame(`"ok"`, `null`, `1`) + reqFrame(`"ok"`, `null`, `2`) + reqFrame(`"evt"`, `null`, ``))
			c.readFrame()
			c.readFrame()
		}, invWant{requests: 1, kinds: rpc.ErrorCounts{RateLimited: 1, RateLimitedEvents: 1}}},
		{"event", rpc.Config{}, tcpEvent("evt"), invWant{events: 1}},
		{"event error", rpc.Config{}, tcpEvent("evterr"), invWant{events: 1, kinds: rpc.ErrorCounts{Handler: 1}, patternErrors: 1}},
		{"event panic", rpc.Config{}, tcpEvent("evtpanic"), invWant{events: 1, kinds: rpc.ErrorCounts{Panic: 1}, patternErrors: 1}},
		{"event goexit", rpc.Config{}, tcpEvent("evtgoexit"), invWant{events: 1, kinds: rpc.ErrorCounts{Panic: 1}, patternErrors: 1}},
		{"dispatch success", rpc.Config{}, dispatch("ok", bg), invWant{requests: 1}},
		{"dispatch nats peer", rpc.Config{}, func(t *testing.T, s *rpc.Server, _ func() error) {
			s.Dispatch(context.Background(), rpc.Message{Packet: []byte(reqBody(`"ok"`, `null`, `1`)), Peer: s.NewPeer("nats", nil)}, newRecorder())
			s.Dispatch(context.Background(), rpc.Message{Packet: []byte(reqBody(`"evt"`, `null`, ``)), Peer: s.NewPeer("nats", nil)}, newRecorder())
		}, invWant{requests: 1, events: 1}},
		{"dispatch event rate limited", rpc.Config{RateLimitPerSec: 1, RateLimitBurst: 1}, func(t *testing.T, s *rpc.Server, _ func() error) {
			p := s.NewPeer("nats", nil)
			s.Dispatch(context.Background(), rpc.Message{Packet: []byte(reqBody(`"evt"`, `null`, ``)), Peer: p}, newRecorder())
			s.Dispatch(context.Background(), rpc.Message{Packet: []byte(reqBody(`"evt"`, `null`, ``)), Peer: p}, newRecorder())
			s.Dispatch(context.Background(), rpc.Message{Packet: []byte(reqBody(`"ok"`, `null`, `1`)), Peer: p}, newRecorder())
		}, invWant{events: 1, kinds: rpc.ErrorCounts{RateLimited: 1, RateLimitedEvents: 1}}},
		{"retried", rpc.Config{RetryAttempts: 2, RetryDelay: time.Millisecond}, tcp("transient", `null`), invWant{requests: 1, kinds: rpc.ErrorCounts{Handler: 1}, patternErrors: 1}},
		{"event timeout", rpc.Config{}, tcpEvent("evtwait"), invWant{events: 1, kinds: rpc.ErrorCounts{Timeout: 1}, patternErrors: 1}},
		{"ndjson request without id", rpc.Config{}, func(t *testing.T, s *rpc.Server, _ func() error) {
			c := dial(t, s)
			defer c.close()
			c.write(reqBody(`"ok"`, `null`, ``) + "\n")
			c.readLine()
		}, invWant{requests: 1}},
		{"forced shutdown, event", rpc.Config{}, func(t *testing.T, s *rpc.Server, _ func() error) {
			dial(t, s).write(reqFrame(`"evthour"`, `null`, ``))
			if !eventually(5*time.Second, func() bool { return s.GetMetrics().InFlight == 1 }) {
				t.Fatal("never ran")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			s.Shutdown(ctx)
		}, invWant{events: 1, kinds: rpc.ErrorCounts{ShuttingDown: 1, ShutdownCut: 1}, patternErrors: 1}},
		{"dispatch error", rpc.Config{}, dispatch("err", bg), invWant{requests: 1, kinds: rpc.ErrorCounts{Handler: 1}, patternErrors: 1}},
		{"dispatch panic", rpc.Config{}, dispatch("panic", bg), invWant{requests: 1, kinds: rpc.ErrorCounts{Panic: 1}, patternErrors: 1}},
		{"dispatch goexit", rpc.Config{}, dispatch("goexit", bg), invWant{requests: 1, kinds: rpc.ErrorCounts{Panic: 1}, patternErrors: 1}},
		{"dispatch timeout", rpc.Config{}, dispatch("giveup", bg), invWant{requests: 1, kinds: rpc.ErrorCounts{Timeout: 1}, patternErrors: 1}},
		{"dispatch canceled", rpc.Config{}, dispatch("wait", short), invWant{requests: 1, kinds: rpc.ErrorCounts{Canceled: 1}, patternErrors: 1}},
		{"dispatch stream cut", rpc.Config{}, dispatch("obswait", short), invWant{requests: 1, kinds: rpc.ErrorCounts{Canceled: 1}, patternErrors: 1}},
		{"dispatch unknown", rpc.Config{}, dispatch("nope", bg), invWant{kinds: rpc.ErrorCounts{NoHandler: 1}}},
		{"dispatch invalid json", rpc.Config{}, func(t *testing.T, s *rpc.Server, _ func() error) {
			if err := s.Dispatch(context.Background(), rpc.Message{Packet: []byte(`{"pattern":`)}, newRecorder()); err == nil {
				t.Fatal("Dispatch took invalid JSON")
			}
		}, invWant{kinds: rpc.ErrorCounts{BadFrame: 1}}},
		{"dispatch after shutdown", rpc.Config{}, func(t *testing.T, s *rpc.Server, stop func() error) {
			stop()
			if err := s.Dispatch(context.Background(), rpc.Message{Packet: []byte(reqBody(`"ok"`, `null`, `1`))}, newRecorder()); !errors.Is(err, rpc.ErrShuttingDown) {
				t.Fatalf("Dispatch: %v", err)
			}
		}, invWant{kinds: rpc.ErrorCounts{ShuttingDown: 1}}},
		{"graceful shutdown, in flight", rpc.Config{}, func(t *testing.T, s *rpc.Server, stop func() error) {
			c := dial(t, s)
			c.write(reqFrame(`"goexitlong"`, `null`, `1`))
			if !eventually(5*time.Second, func() bool { return s.GetMetrics().InFlight == 1 }) {
				t.Fatal("never ran")
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		}, invWant{requests: 1, kinds: rpc.ErrorCounts{Panic: 1}, patternErrors: 1}},
		{"forced shutdown, in flight", rpc.Config{}, forcedShutdown("wait"), invWant{requests: 1, kinds: rpc.ErrorCounts{ShuttingDown: 1, ShutdownCut: 1}, patternErrors: 1}},
		{"forced shutdown, stream", rpc.Config{}, forcedShutdown("obswait"), invWant{requests: 1, kinds: rpc.ErrorCounts{ShuttingDown: 1, ShutdownCut: 1}, patternErrors: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, stop := startServer(t, tc.cfg, register)
			tc.drive(t, s, stop)
			var m rpc.Metrics
			settled := eventually(5*time.Second, func() bool {
				m = s.GetMetrics()
				return m.InFlight == 0 && m.Limits.HandedOffRunning == 0 && m.Requests >= tc.want.requests && m.Events >= tc.want.events &&
					m.ErrorByKind == tc.want.kinds
			})
			if !settled {
				t.Errorf("not settled: in_flight %d, handed_off_running %d, requests %d, events %d\nkinds %+v\nwant  %+v",
					m.InFlight, m.Limits.HandedOffRunning, m.Requests, m.Events, m.ErrorByKind, tc.want.kinds)
			}
			if m.Requests != tc.want.requests || m.Events != tc.want.events {
				t.Errorf("requests %d events %d; want %d %d", m.Requests, m.Events, tc.want.requests, tc.want.events)
			}
			if got := patternErrors(m); got != tc.want.patternErrors {
				t.Errorf("patterns' errors %d, want %d", got, tc.want.patternErrors)
			}
			checkMetricInvariants(t, m)
			// Once the server is shut down and its peers gone, every
			// gauge is back to zero.
			if err := stop(); err != nil && !strings.Contains(tc.name, "forced") {
				t.Errorf("Shutdown: %v", err)
			}
			if !eventually(5*time.Second, func() bool {
				m = s.GetMetrics()
				return m.InFlight == 0 && m.ActiveConnections == 0 && m.Limits.ClosingConnections == 0 &&
					m.Limits.MemoryHeldBytes == 0 && m.Limits.HandedOffRunning == 0
			}) {
				t.Errorf("after Shutdown: in_flight %d active %d closing %d memory_held %d handed_off_running %d",
					m.InFlight, m.ActiveConnections, m.Limits.ClosingConnections, m.Limits.MemoryHeldBytes, m.Limits.HandedOffRunning)
			}
			if m.Requests != tc.want.requests || m.Events != tc.want.events || m.ErrorByKind != tc.want.kinds {
				t.Errorf("after Shutdown: requests %d events %d kinds %+v", m.Requests, m.Events, m.ErrorByKind)
			}
		})
	}
}
