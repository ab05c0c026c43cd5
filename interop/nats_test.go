package interop_test

// NestJS over NATS (Transport.NATS), majors 11 (npm nats 2.29.3) and 12
// (@nats-io/transport-node 3.4.0), through a NATS server embedded in the
// test process on a loopback port:
//
//   - a real NestJS ClientProxy (nestjs/nats-client.mjs) calls our handlers
//     (the demo contract, plus "meta" and "meta-evt") served by natsrpc;
//   - our natsrpc.Client calls a real NestJS NATS microservice
//     (nestjs/nats-server.mjs, the demo contract).
//
// No test here subscribes to a wildcard on the NATS server: a ">"
// subscriber would swallow the server's "no responders" answers, which the
// unknown-pattern checks rely on.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/msgpattern/msgpattern/internal/demo"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// natsMajors are the NestJS majors whose folders pin a NATS client package.
var natsMajors = []string{"11", "12"}

// natsScenarioCount is how many scenarios nats-client.mjs runs.
const natsScenarioCount = 17

// traceparent is the metadata nats-client.mjs sends with NestJS 12.
const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// runNATS starts a NATS server on a free loopback port, shut down when the
// test ends.
func runNATS(t *testing.T) *natsserver.Server {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		t.Fatal("nats server not ready within 10 s")
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns
}

// metaSeen records the metadata our "meta" and "meta-evt" handlers saw.
type metaSeen struct {
	mu       sync.Mutex
	requests []map[string]string
	events   []map[string]string
}

func (m *metaSeen) add(list *[]map[string]string, md map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	*list = append(*list, md)
}

func (m *metaSeen) snapshot() (requests, events []map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.requests), slices.Clone(m.events)
}

// registerMeta adds "meta" (replies with the request's metadata and its
// NATS header x-trace) and the event "meta-evt" to srv.
func registerMeta(srv *rpc.Server) *metaSeen {
	seen := &metaSeen{}
	srv.Handle("meta", rpc.HandlerFunc(func(_ context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
		md := r.Metadata()
		seen.add(&seen.requests, md)
		return w.Send(map[string]any{"metadata": md, "xTrace": r.Header()["x-trace"]})
	}))
	srv.HandleEvent("meta-evt", rpc.HandlerFunc(func(_ context.Context, _ rpc.ResponseWriter, r *rpc.Request) error {
		seen.add(&seen.events, r.Metadata())
		return nil
	}))
	return seen
}

// TestNestNATSClientToGoServer: a real NestJS ClientProxy (Transport.NATS)
// of majors 11 and 12 calls our handlers over NATS: string, number and
// object patterns, the cmd convenience, unicode, 200 concurrent sends, two
// events, a stream, RpcException-style errors, an unknown pattern (no
// responders, at once), NATS headers and NestJS 12 metadata, which must
// reach our handlers' rpc.Request.Metadata() in a request and in an event.
func TestNestNATSClientToGoServer(t *testing.T) {
	node := requireNode(t)
	for _, v := range natsMajors {
		t.Run("nest"+v, func(t *testing.T) {
			t.Parallel()
			ns := runNATS(t)
			srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1}, discard())
			demo.Register(srv)
			seen := registerMeta(srv)
			nsrv, err := natsrpc.Connect(srv, ns.ClientURL())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := srv.Shutdown(ctx); err != nil {
					t.Errorf("Shutdown: %v", err)
				}
				nsrv.Close()
			})

			results := runScenarioScript(t, node, v, 2*time.Minute, "nats-client.mjs", "--nest", v, "--url", ns.ClientURL())
			if len(results) != natsScenarioCount {
				t.Errorf("nats-client.mjs reported %d scenarios, want %d", len(results), natsScenarioCount)
			}
			for _, r := range results {
				if !r.OK {
					t.Errorf("scenario %s failed: result=%s error=%s", r.Scenario, r.Result, r.Error)
				}
			}

			// What our handlers saw. The event may still be in flight when
			// node exits.
			var want map[string]string
			if v == "12" {
				want = map[string]string{"traceparent": traceparent}
			}
			var requests, events []map[string]string
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				if requests, events = seen.snapshot(); len(events) > 0 || time.Now().After(deadline) {
					break
				}
			}
			// "headers" sends none, "metadata" sends it (v12).
			if len(requests) != 2 || requests[0] != nil || !reflect.DeepEqual(requests[1], want) {
				t.Errorf("metadata seen by the meta handler: %v, want [map[] %v]", requests, want)
			}
			if len(events) != 1 || !reflect.DeepEqual(events[0], want) {
				t.Errorf("metadata seen by the meta-evt handler: %v, want [%v]", events, want)
			}
			if m := srv.GetMetrics(); m.Events < 3 {
				t.Errorf("server counted %d events, want at least 3", m.Events)
			}
		})
	}
}

// TestGoNATSClientToNestServer: our natsrpc.Client calls a real NestJS NATS
// microservice (nats-server.mjs, in queue group "nest-demo") of majors 11
// and 12: every pattern of the demo contract, a stream, RpcExceptions as
// *rpc.Error, events, metadata, 200 concurrent calls, a call given
// up on, and an unknown pattern as rpc.ErrNoHandler at once; two instances
// sharing a queue group; an instance killed under pending calls and
// replaced.
func TestGoNATSClientToNestServer(t *testing.T) {
	node := requireNode(t)
	for _, v := range natsMajors {
		t.Run("nest"+v, func(t *testing.T) {
			t.Parallel()
			t.Run("contract", func(t *testing.T) {
				ns := runNATS(t)
				const queue = "nest-demo"
				_, url := startNestProc(t, node, v, "nats-server.mjs", "--url", ns.ClientURL(), "--queue", queue)
				if url != ns.ClientURL() {
					t.Errorf("nats-server.mjs printed LISTENING %s, want %s", url, ns.ClientURL())
				}
				checkNestSubscriptions(t, ns, "nest"+v+"-nats-server", queue)
				testNestNATSContract(t, dialNATS(t, ns))
			})
			t.Run("queue", func(t *testing.T) { testNestNATSQueue(t, node, v) })
			t.Run("restart", func(t *testing.T) { testNestNATSRestart(t, node, v) })
		})
	}
}

// dialNATS is a natsrpc.Client of the NATS server ns, closed when the test
// ends.
func dialNATS(t *testing.T, ns *natsserver.Server) *natsrpc.Client {
	t.Helper()
	c, err := natsrpc.Dial(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testNestNATSQueue: two NestJS instances in one queue group (--queue)
// share the calls, each answered once.
func testNestNATSQueue(t *testing.T, node, major string) {
	ns := runNATS(t)
	for range 2 {
		startNestProc(t, node, major, "nats-server.mjs", "--url", ns.ClientURL(), "--queue", "shared")
	}
	c := dialNATS(t, ns)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 200
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got, err := rpc.Call[[]int, int](ctx, c, "sum", []int{i, 1})
			if err == nil && got != i+1 {
				err = fmt.Errorf("sum [%d,1] = %d", i, got)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	// Messages the NATS server delivered to each instance: all n between
	// the two, some to each.
	connz, err := ns.Connz(&natsserver.ConnzOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var delivered []int64
	for _, ci := range connz.Conns {
		if ci.Name == "nest"+major+"-nats-server" {
			delivered = append(delivered, ci.OutMsgs)
		}
	}
	if len(delivered) != 2 || delivered[0]+delivered[1] != n || delivered[0] == 0 || delivered[1] == 0 {
		t.Errorf("requests delivered to the two NestJS instances: %v, want two shares of %d", delivered, n)
	}
}

// testNestNATSRestart: a NestJS instance killed under pending calls says
// nothing (over NATS only the caller's deadline ends them); once it is
// gone a call fails at once with ErrNoHandler; a new instance is reached
// by the next call.
func testNestNATSRestart(t *testing.T, node, major string) {
	ns := runNATS(t)
	first, _ := startNestProc(t, node, major, "nats-server.mjs", "--url", ns.ClientURL())
	c := dialNATS(t, ns)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if got, err := rpc.Call[[]int, int](ctx, c, "sum", []int{1, 2}); err != nil || got != 3 {
		t.Fatalf("sum [1,2] = %d, %v", got, err)
	}

	const pending = 3
	const deadline = 1500 * time.Millisecond
	errs := make(chan error, pending)
	for range pending {
		go func() {
			cctx, ccancel := context.WithTimeout(ctx, deadline)
			defer ccancel()
			_, err := rpc.Call[int, string](cctx, c, "slow", 5000)
			errs <- err
		}()
	}
	time.Sleep(200 * time.Millisecond) // the requests reach node
	first.kill(t, syscall.SIGKILL)
	for range pending {
		select {
		case err := <-errs:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("call pending on a killed instance: got %v, want DeadlineExceeded", err)
			}
		case <-time.After(deadline + 3*time.Second):
			t.Fatal("a call pending on a killed instance outlived its deadline by 3 s")
		}
	}

	// The NATS server drops the dead instance's subscriptions: nobody
	// serves "sum" now, and the caller is told at once.
	var err error
	waitUntil(t, "no responders for sum", 5*time.Second, func() bool {
		// Should a request still reach the dead connection, its own
		// deadline ends it and the next try goes.
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		defer ccancel()
		start := time.Now()
		_, err = rpc.Call[[]int, int](cctx, c, "sum", []int{1})
		if errors.Is(err, rpc.ErrNoHandler) {
			if d := time.Since(start); d > time.Second {
				t.Errorf("no responders took %v", d)
			}
			return true
		}
		return false
	})

	startNestProc(t, node, major, "nats-server.mjs", "--url", ns.ClientURL())
	if got, err := rpc.Call[[]int, int](ctx, c, "sum", []int{4, 5}); err != nil || got != 9 {
		t.Errorf("after the restart: sum [4,5] = %d, %v", got, err)
	}
}

// checkNestSubscriptions: the NestJS server subscribes to one subject per
// pattern (the route key; no cmd convenience), all in queue group queue.
func checkNestSubscriptions(t *testing.T, ns *natsserver.Server, name, queue string) {
	t.Helper()
	connz, err := ns.Connz(&natsserver.ConnzOptions{SubscriptionsDetail: true})
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, ci := range connz.Conns {
		if ci.Name != name {
			continue
		}
		for _, sd := range ci.SubsDetail {
			if sd.Queue != queue {
				t.Errorf("NestJS subscribes to %s in queue group %q, want %q", sd.Subject, sd.Queue, queue)
			}
			subjects = append(subjects, sd.Subject)
		}
	}
	sort.Strings(subjects)
	want := []string{"42", "boom", "echo", "events", "evt", "fail", "failobj", "slow", "stream3", "sum",
		`{"cmd":"evt"}`, `{"cmd":"nested","opts":{"a":"x","z":1}}`, `{"cmd":"sum"}`, `{"cmd":"sum2","role":"math"}`}
	sort.Strings(want)
	if !reflect.DeepEqual(subjects, want) {
		t.Errorf("NestJS connection %q subscribes to\n%q\nwant\n%q", name, subjects, want)
	}
}

// testNestNATSContract calls a NestJS NATS server's demo contract with c.
func testNestNATSContract(t *testing.T, c *natsrpc.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	check := func(name string, f func() error) {
		t.Helper()
		if err := f(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	want := func(got, want any) error {
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("got %#v, want %#v", got, want)
		}
		return nil
	}
	remote := func(err error) (*rpc.Error, error) {
		var re *rpc.Error
		if !errors.As(err, &re) {
			return nil, fmt.Errorf("got error %v (%T), want a *rpc.Error", err, err)
		}
		return re, nil
	}
	call := func(pattern any, data any, expect any) func() error {
		return func() error {
			var got any
			if err := c.Send(ctx, pattern, data, &got); err != nil {
				return err
			}
			var exp any
			b, _ := json.Marshal(expect)
			json.Unmarshal(b, &exp)
			return want(got, exp)
		}
	}

	check("string pattern", func() error {
		got, err := rpc.Call[[]int, int](ctx, c, "sum", []int{1, 2, 3})
		if err != nil {
			return err
		}
		return want(got, 6)
	})
	check("number pattern", call(42, map[string]any{}, "forty-two"))
	check("null data", call(42, nil, "forty-two"))
	check("object pattern", call(map[string]any{"role": "math", "cmd": "sum2"}, []int{1, 2}, "sum2:3"))
	check("nested object pattern", call(map[string]any{"cmd": "nested", "opts": map[string]any{"z": 1, "a": "x"}}, 1, "nested-ok"))
	check("cmd pattern", call(map[string]any{"cmd": "sum"}, []int{4, 5}, 9))
	check("unicode echo", call("echo", unicodeText, unicodeText))
	check("stream", func() error {
		var got []int
		for v, err := range rpc.StreamOf[int](ctx, c, "stream3", map[string]any{}) {
			if err != nil {
				return err
			}
			got = append(got, v)
		}
		return want(got, []int{1, 2, 3})
	})
	check("RpcException(string)", func() error {
		re, err := remote(c.Send(ctx, "fail", map[string]any{}, nil))
		if err != nil {
			return err
		}
		if re.Status != "error" || re.Message != "bad input" {
			return fmt.Errorf("got Status %q Message %q (raw %s), want error / bad input", re.Status, re.Message, re.Payload)
		}
		return nil
	})
	check("RpcException(object)", func() error {
		re, err := remote(c.Send(ctx, "failobj", map[string]any{}, nil))
		if err != nil {
			return err
		}
		if string(re.Payload) != `{"status":400,"message":"bad"}` || re.Status != "400" || re.Message != "bad" {
			return fmt.Errorf("got Payload %s Status %q Message %q", re.Payload, re.Status, re.Message)
		}
		return nil
	})
	check("plain Error", func() error {
		re, err := remote(c.Send(ctx, "boom", map[string]any{}, nil))
		if err != nil {
			return err
		}
		return want(re.Message, "Internal server error")
	})
	check("unknown pattern", func() error {
		start := time.Now()
		err := c.Send(ctx, "nope", map[string]any{}, nil)
		if !errors.Is(err, rpc.ErrNoHandler) {
			return fmt.Errorf("got %v, want errors.Is(err, rpc.ErrNoHandler)", err)
		}
		if d := time.Since(start); d > time.Second {
			return fmt.Errorf("no responders took %v", d)
		}
		return nil
	})
	check("unknown pattern, stream", func() error {
		for _, err := range rpc.StreamOf[int](ctx, c, "nope", map[string]any{}) {
			if !errors.Is(err, rpc.ErrNoHandler) {
				return fmt.Errorf("got %v, want errors.Is(err, rpc.ErrNoHandler)", err)
			}
			return nil
		}
		return errors.New("the stream ended with no error")
	})
	check("events", func() error {
		if err := c.Emit(ctx, "evt", map[string]int{"n": 1}); err != nil {
			return err
		}
		if err := c.Emit(ctx, map[string]any{"cmd": "evt"}, map[string]int{"n": 2}); err != nil {
			return err
		}
		// Two subjects, two subscriptions: either order, and later than a
		// request may be. Poll "events" (which returns and clears).
		var got []map[string]int
		for deadline := time.Now().Add(10 * time.Second); len(got) < 2 && time.Now().Before(deadline); {
			batch, err := rpc.Call[map[string]any, []map[string]int](ctx, c, "events", map[string]any{})
			if err != nil {
				return err
			}
			got = append(got, batch...)
			if len(got) < 2 {
				time.Sleep(20 * time.Millisecond)
			}
		}
		sort.Slice(got, func(i, j int) bool { return got[i]["n"] < got[j]["n"] })
		return want(got, []map[string]int{{"n": 1}, {"n": 2}})
	})
	check("metadata", func() error {
		// NestJS's NatsContext does not expose body metadata; the call
		// must work all the same.
		var got int
		if err := c.Send(ctx, "sum", []int{2, 3}, &got, rpc.WithMetadata(map[string]string{"traceparent": traceparent})); err != nil {
			return err
		}
		return want(got, 5)
	})
	check("200 concurrent calls", func() error {
		const n = 200
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				got, err := rpc.Call[[]int, string](ctx, c, map[string]any{"cmd": "sum2", "role": "math"}, []int{i, 1})
				if err == nil && got != fmt.Sprintf("sum2:%d", i+1) {
					err = fmt.Errorf("sum2 [%d,1] = %q", i, got)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	})
	check("cancelled call", func() error {
		cctx, ccancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer ccancel()
		if _, err := rpc.Call[int, string](cctx, c, "slow", 300); !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("slow 300 ms with a 50 ms deadline: got %v, want DeadlineExceeded", err)
		}
		// The late reply is dropped; the next call gets its own.
		got, err := rpc.Call[int, string](ctx, c, "slow", 400)
		if err != nil {
			return err
		}
		return want(got, "slow:400")
	})
	check("stream abandoned", func() error {
		for v, err := range rpc.StreamOf[int](ctx, c, "stream3", map[string]any{}) {
			if err != nil || v != 1 {
				return fmt.Errorf("first value %d, %v", v, err)
			}
			break
		}
		return call("sum", []int{7, 8}, 15)()
	})
	check("after errors", call("sum", []int{1}, 1))
}
