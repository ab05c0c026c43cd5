package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
	"github.com/msgpattern/msgpattern/wire"
)

// cliWant is what one way of ending a client call must leave in
// Client.Metrics once everything has settled.
type cliWant struct {
	calls, events, remote, local uint64
	retries, reconnects          uint64
	dialErrors                   uint64 // at least
	heartbeatFailures            uint64
}

// cliMetricsServer starts a server with the handlers the cases call;
// started gets a value when "wait" or "hold" has begun.
func cliMetricsServer(t *testing.T, started chan<- struct{}) string {
	t.Helper()
	signal := func() {
		select {
		case started <- struct{}{}:
		default:
		}
	}
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("ok", rpc.Func(func(json.RawMessage) (any, error) { return 1, nil }))
		s.Handle("str", rpc.Func(func(json.RawMessage) (any, error) { return "text", nil }))
		s.Handle("fail", rpc.Func(func(json.RawMessage) (any, error) { return nil, rpc.NewError("bad") }))
		s.Handle("echo", rpc.Func(func(d json.RawMessage) (any, error) { return d, nil }))
		s.Handle("wait", rpc.ContextFunc(func(ctx context.Context, _ json.RawMessage) (any, error) {
			signal()
			<-ctx.Done()
			return nil, ctx.Err()
		}))
		s.Handle("count", rpc.Stream(func(_ context.Context, n int) iter.Seq2[int, error] {
			return func(yield func(int, error) bool) {
				for i := 1; i <= n; i++ {
					if !yield(i, nil) {
						return
					}
				}
			}
		}))
		s.Handle("strs", rpc.Stream(func(context.Context, json.RawMessage) iter.Seq2[string, error] {
			return func(yield func(string, error) bool) { _ = yield("a", nil) && yield("b", nil) }
		}))
		s.Handle("countfail", rpc.Stream(func(context.Context, json.RawMessage) iter.Seq2[int, error] {
			return func(yield func(int, error) bool) { _ = yield(1, nil) && yield(0, rpc.NewError("broke")) }
		}))
		s.Handle("hold", rpc.Stream(func(ctx context.Context, _ json.RawMessage) iter.Seq2[int, error] {
			return func(yield func(int, error) bool) {
				if yield(1, nil) {
					signal()
					<-ctx.Done()
				}
			}
		}))
		s.HandleEvent("evt", rpc.Event(func(context.Context, json.RawMessage) error { return nil }))
	})
	return s.Addr().String()
}

// localRPCErrorData encodes to an error that is an *rpc.Error made here:
// the call fails locally, and no remote side answered it.
type localRPCErrorData struct{}

func (localRPCErrorData) MarshalJSON() ([]byte, error) { return nil, rpc.NewError("not encodable") }

// drain runs a stream to its end, stopping after stopAfter values (0: never).
func drain(seq iter.Seq2[json.RawMessage, error], stopAfter int) (n int, end error) {
	for _, err := range seq {
		if err != nil {
			return n, err
		}
		if n++; n == stopAfter {
			return n, nil
		}
	}
	return n, nil
}

// TestClientMetricsInvariantsByEnding drives every way a client call can
// end and checks what Client.Metrics counts for it once settled: each
// Send, Call and Stream is one call, each Emit one event; each is a
// success, a remote error (answered by the server) or a local error; the
// in-flight gauge returns to 0; the latency histogram holds every call.
func TestClientMetricsInvariantsByEnding(t *testing.T) {
	t.Parallel()
	noHB := rpc.WithHeartbeat(0, 0)
	fast := rpc.WithReconnectBackoff(time.Millisecond, 5*time.Millisecond)
	for _, tc := range []struct {
		name string
		// run makes the calls and returns the client whose metrics are
		// checked.
		run  func(t *testing.T) *rpc.Client
		want cliWant
	}{
		{"success", func(t *testing.T) *rpc.Client {
			c := newTestClient(t, cliMetricsServer(t, nil))
			mustErr(t, c.Send(context.Background(), "ok", nil, nil), nil)
			return c
		}, cliWant{calls: 1}},
		{"remote error", func(t *testing.T) *rpc.Client {
			c := newTestClient(t, cliMetricsServer(t, nil))
			mustErr(t, c.Send(context.Background(), "fail", nil, nil), isRemoteErr)
			return c
		}, cliWant{calls: 1, remote: 1}},
		{"remote no handler", func(t *testing.T) *rpc.Client {
			c := newTestClient(t, cliMetricsServer(t, nil))
			mustErr(t, c.Send(context.Background(), "nope", nil, nil), func(err error) bool { return errors.Is(err, rpc.ErrNoHandler) })
			return c
		}, cliWant{calls: 1, remote: 1}},
		{"call timeout", func(t *testing.T) *rpc.Client {
			started := make(chan struct{}, 1)
			c := newTestClient(t, cliMetricsServer(t, started))
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			mustErr(t, c.Send(ctx, "wait", nil, nil), is(context.DeadlineExceeded))
			return c
		}, cliWant{calls: 1, local: 1}},
		{"canceled before the request was written", func(t *testing.T) *rpc.Client {
			c := newTestClient(t, cliMetricsServer(t, nil))
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			mustErr(t, c.Send(ctx, "ok", nil, nil), is(context.Canceled))
			return c
		}, cliWant{calls: 1, local: 1}},
		{"canceled after the request was written", func(t *testing.T) *rpc.Client {
			started := make(chan struct{}, 1)
			c := newTestClient(t, cliMetricsServer(t, started))
			ctx, cancel := context.WithCancel(context.Background())
			go func() { <-started; cancel() }()
			mustErr(t, c.Send(ctx, "wait", nil, nil), is(context.Canceled))
			return c
		}, cliWant{calls: 1, local: 1}},
		{"connection lost with a call pending", func(t *testing.T) *rpc.Client {
			fs := startFakeServer(t, func(int, wire.Packet, func(string)) bool { return false })
			c := newTestClient(t, fs.addr, noHB)
			mustErr(t, c.Send(context.Background(), "x", nil, nil), is(rpc.ErrConnectionLost))
			return c
		}, cliWant{calls: 1, local: 1}},
		{"connection lost, idempotent call resent on a new connection", func(t *testing.T) *rpc.Client {
			fs := startFakeServer(t, func(conn int, req wire.Packet, w func(string)) bool {
				if conn == 1 {
					return false
				}
				w(rawFrame(`{"response":1,"isDisposed":true,"id":` + string(req.ID) + `}`))
				return true
			})
			c := newTestClient(t, fs.addr, noHB, fast)
			mustErr(t, c.Send(context.Background(), "x", nil, nil, rpc.Idempotent()), nil)
			return c
		}, cliWant{calls: 1, retries: 1, reconnects: 1}},
		{"pool member dies", func(t *testing.T) *rpc.Client {
			fs := startFakeServer(t, func(conn int, req wire.Packet, w func(string)) bool {
				if conn == 1 {
					return false
				}
				w(rawFrame(`{"response":1,"isDisposed":true,"id":` + string(req.ID) + `}`))
				return true
			})
			c := newTestClient(t, fs.addr, noHB, fast, rpc.WithPool(2, false))
			mustErr(t, c.Send(context.Background(), "x", nil, nil), is(rpc.ErrConnectionLost))
			mustErr(t, c.Send(context.Background(), "x", nil, nil), nil)
			return c
		}, cliWant{calls: 2, local: 1}},
		{"dial failure", func(t *testing.T) *rpc.Client {
			c := newTestClient(t, deadAddr(t), fast)
			mustErr(t, c.Send(context.Background(), "x", nil, nil), is(rpc.ErrUnavailable))
			return c
		}, cliWant{calls: 1, local: 1, dialErrors: 1}},
		{"dial failure, idempotent, after backoff", func(t *testing.T) *rpc.Client {
			c := newTestClient(t, deadAddr(t), fast)
			mustErr(t, c.Send(context.Background(), "x", nil, nil, rpc.Idempotent()), is(rpc.ErrUnavailable))
			return c
		}, cliWant{calls: 1, local: 1, retries: 3, dialErrors: 4}},
		{"dial failure in a pool", func(t *testing.T) *rpc.Client {
			c := newTestClient(t, deadAddr(t), fast, rpc.WithPool(3, true))
			mustErr(t, c.Send(context.Background(), "x", nil, nil), is(rpc.ErrUnavailable))
			return c
		}, cliWant{calls: 1, local: 1, dialErrors: 1}},
		{"wait for room ended by the context", func(t *testing.T) *rpc.Client {
			ln := listenNeverRead(t)
			c := newTestClient(t, ln.Addr().String(), noHB, rpc.WithWriteTimeout(0), rpc.WithMaxQueuedBytes(1<<20))
			big := strings.Repeat("x", 8<<20)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			mustErr(t, c.Send(ctx, "x", big, nil), is(context.DeadlineExceeded))
			ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel2()
			mustErr(t, c.Send(ctx2, "x", big, nil), is(context.DeadlineExceeded))
			return c
		}, cliWant{calls: 2, local: 2}},
		{"emit", func(t *testing.T) *rpc.Client {
			c := newTestClient(t, cliMetricsServer(t, nil))
			mustErr(t, c.Emit(context.Background(), "evt", 1), nil)
			return c
		}, cliWant{events: 1}},
		{"emit, dial failure", func(t *testing.T) *rpc.Client {
			c := newTestClient(t, deadAddr(t), fast)
			mustErr(t, c.Emit(context.Background(), "evt", 1), is(rpc.ErrUnavailable))
			return c
		}, cliWant{events: 1, local: 1, dialErrors: 1}},
		{"heartbeat failure", func(t *testing.T) *rpc.Client {
			fs := startFakeServer(t, func(int, wire.Packet, func(string)) bool { return true }) // answers nothing
			c := newTestClient(t, fs.addr, rpc.WithHeartbeat(20*time.Millisecond, 200*time.Millisecond))
			mustErr(t, c.Send(context.Background(), "x", nil, nil), is(rpc.ErrHeartbeatTimeout))
			return c
		}, cliWant{calls: 1, local: 1, heartbeatFailures: 1}},
		{"reply too large", func(t *testing.T) *rpc.Client {
			c := newTestClient(t, cliMetricsServer(t, nil), rpc.WithMaxFrameSize(100))
			mustErr(t, c.Send(context.Background(), "echo", strings.Repeat("x", 200), nil), is(wire.ErrFrameTooLarge))
			return c
		}, cliWant{calls: 1, local: 1}},
		{"reply does not decode", func(t *testing.T) *rpc.Client {
			c := newTestClient(t, cliMetricsServer(t, nil))
			var n int
			mustErr(t, c.Send(context.Background(), "str", nil, &n), func(err error) bool { return err != nil && !isRemoteErr(err) })
			return c
		}, cliWant{calls: 1, local: 1}},
		{"local *rpc.Error encoding the data", func(t *testing.T) *rpc.Client {
			c := newTestClient(t, cliMetricsServer(t, nil))
			mustErr(t, c.Send(context.Background(), "ok", localRPCErrorData{}, nil), func(err error) bool { return err != nil })
			return c
		}, cliWant{calls: 1, local: 1}},
		{"close with a call pending", func(t *testing.T) *rpc.Client {
			started := make(chan struct{}, 1)
			c := newTestClient(t, cliMetricsServer(t, started))
			go func() { <-started; c.Close() }()
			mustErr(t, c.Send(context.Background(), "wait", nil, nil), is(rpc.ErrClientClosed))
			return c
		}, cliWant{calls: 1, local: 1}},
		{"stream ends normally", func(t *testing.T) *rpc.Client {
			c := newTestClient(t, cliMetricsServer(t, nil))
			if n, err := drain(c.Stream(context.Background(), "count", 3), 0); n != 3 || err != nil {
				t.Errorf("stream: %d values, %v", n, err)
			}
			return c
		}, cliWant{calls: 1}},
		{"stream ends with a remote error", func(t *testing.T) *rpc.Client {
			c := newTestClient(t, cliMetricsServer(t, nil))
			_, err := drain(c.Stream(context.Background(), "countfail", nil), 0)
			mustErr(t, err, isRemoteErr)
			return c
		}, cliWant{calls: 1, remote: 1}},
		{"stream consumer stops early", func(t *testing.T) *rpc.Client {
			c := newTestClient(t, cliMetricsServer(t, nil))
			if n, err := drain(c.Stream(context.Background(), "count", 100), 1); n != 1 || err != nil {
				t.Errorf("stream: %d values, %v", n, err)
			}
			return c
		}, cliWant{calls: 1}},
		{"stream ended by its context", func(t *testing.T) *rpc.Client {
			started := make(chan struct{}, 1)
			c := newTestClient(t, cliMetricsServer(t, started))
			ctx, cancel := context.WithCancel(context.Background())
			go func() { <-started; cancel() }()
			_, err := drain(c.Stream(ctx, "hold", nil), 0)
			mustErr(t, err, is(context.Canceled))
			return c
		}, cliWant{calls: 1, local: 1}},
		{"stream connection lost", func(t *testing.T) *rpc.Client {
			fs := startFakeServer(t, func(int, wire.Packet, func(string)) bool { return false })
			c := newTestClient(t, fs.addr, noHB)
			_, err := drain(c.Stream(context.Background(), "x", nil), 0)
			mustErr(t, err, is(rpc.ErrConnectionLost))
			return c
		}, cliWant{calls: 1, local: 1}},
		{"stream overflow", func(t *testing.T) *rpc.Client {
			// Three values and no end: once the consumer holds back, the
			// third at the latest passes a one-byte buffer, and the call
			// ends (leaves in_flight) by overflowing, nothing else.
			fs := startFakeServer(t, func(_ int, req wire.Packet, w func(string)) bool {
				v := rawFrame(`{"response":1,"id":` + string(req.ID) + `}`)
				w(v + v + v)
				return true
			})
			c := newTestClient(t, fs.addr, noHB, rpc.WithMaxStreamBuffer(1))
			var end error
			for _, err := range c.Stream(context.Background(), "x", nil) {
				if err != nil {
					end = err
					break
				}
				waitFor(t, "the stream call to overflow", func() bool { return c.Metrics().InFlight == 0 })
			}
			mustErr(t, end, is(rpc.ErrStreamOverflow))
			return c
		}, cliWant{calls: 1, local: 1}},
		{"StreamOf value does not decode", func(t *testing.T) *rpc.Client {
			c := newTestClient(t, cliMetricsServer(t, nil))
			var end error
			for _, err := range rpc.StreamOf[int](context.Background(), c, "strs", nil) {
				if err != nil {
					end = err
					break
				}
			}
			mustErr(t, end, func(err error) bool { return err != nil && !isRemoteErr(err) })
			return c
		}, cliWant{calls: 1, local: 1}},
		{"close with a stream pending", func(t *testing.T) *rpc.Client {
			started := make(chan struct{}, 1)
			c := newTestClient(t, cliMetricsServer(t, started))
			go func() { <-started; c.Close() }()
			_, err := drain(c.Stream(context.Background(), "hold", nil), 0)
			mustErr(t, err, is(rpc.ErrClientClosed))
			return c
		}, cliWant{calls: 1, local: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.run(t)
			w := tc.want
			waitFor(t, "every call to end and be counted", func() bool {
				m := c.Metrics()
				return m.InFlight == 0 && m.Calls == w.calls && m.Events == w.events
			})
			m := c.Metrics()
			got := cliWant{m.Calls, m.Events, m.RemoteErrors, m.LocalErrors, m.Retries, m.Reconnects, min(m.DialErrors, w.dialErrors), m.HeartbeatFailures}
			if got != w {
				t.Errorf("metrics %+v\nwant    %+v", got, w)
			}
			var held uint64
			for _, b := range m.Latency {
				held += b.Count
			}
			if held != m.Calls {
				t.Errorf("latency histogram holds %d calls, calls %d", held, m.Calls)
			}
			if m.RemoteErrors+m.LocalErrors > m.Calls+m.Events {
				t.Errorf("errors %d+%d > calls %d + events %d", m.RemoteErrors, m.LocalErrors, m.Calls, m.Events)
			}
		})
	}
}

// mustErr fails t unless ok(err) (ok nil: unless err is nil).
func mustErr(t *testing.T, err error, ok func(error) bool) {
	t.Helper()
	if ok == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !ok(err) {
		t.Fatalf("unexpected error: %v", err)
	}
}

func is(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }
