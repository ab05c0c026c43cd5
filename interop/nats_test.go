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
	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// natsMajors are the NestJS majors whose folders pin a NATS client package.
var natsMajors = []string{"11", "12"}

// natsScenarioCount is how many scenarios nats-client.mjs runs.
const natsScenarioCount = 17

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
			ns := natstest.Run(t, nil)
			srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1}, discard())
			demo.Register(srv)
			seen := registerMeta(srv)
			natstest.Serve(t, srv, ns.ClientURL())

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
				ns := natstest.Run(t, nil)
				const queue = "nest-demo"
				_, url := startNestProc(t, node, v, "nats-server.mjs", "--url", ns.ClientURL(), "--queue", queue)
				if url != ns.ClientURL() {
					t.Errorf("nats-server.mjs printed LISTENING %s, want %s", url, ns.ClientURL())
				}
				checkNestSubscriptions(t, ns, "nest"+v+"-nats-server", queue)
				testNestNATSContract(t, natstest.Dial(t, ns.ClientURL()))
			})
			t.Run("queue", func(t *testing.T) { testNestNATSQueue(t, node, v) })
			t.Run("restart", func(t *testing.T) { testNestNATSRestart(t, node, v) })
		})
	}
}

// testNestNATSQueue: two NestJS instances in one queue group (--queue)
// share the calls, each answered once.
func testNestNATSQueue(t *testing.T, node, major string) {
	ns := natstest.Run(t, nil)
	for range 2 {
		startNestProc(t, node, major, "nats-server.mjs", "--url", ns.ClientURL(), "--queue", "shared")
	}
	c := natstest.Dial(t, ns.ClientURL())
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
	ns := natstest.Run(t, nil)
	first, _ := startNestProc(t, node, major, "nats-server.mjs", "--url", ns.ClientURL())
	c := natstest.Dial(t, ns.ClientURL())
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
	// The NATS server has delivered the three requests to node (after the
	// "sum" above): a request published after the kill would be answered
	// "no responders", not left to its deadline.
	waitUntil(t, "the slow requests delivered to node", 10*time.Second, func() bool {
		connz, err := ns.Connz(&natsserver.ConnzOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ci := range connz.Conns {
			if ci.Name == "nest"+major+"-nats-server" {
				return ci.OutMsgs >= 1+pending
			}
		}
		return false
	})
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
	k := contractChecks{t: t, ctx: ctx, c: c}
	k.checkPatterns()
	k.check("cmd pattern", k.call(map[string]any{"cmd": "sum"}, []int{4, 5}, 9))
	k.checkStreamAndErrors()
	k.check("unknown pattern", func() error {
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
	k.check("unknown pattern, stream", func() error {
		for _, err := range rpc.StreamOf[int](ctx, c, "nope", map[string]any{}) {
			if !errors.Is(err, rpc.ErrNoHandler) {
				return fmt.Errorf("got %v, want errors.Is(err, rpc.ErrNoHandler)", err)
			}
			return nil
		}
		return errors.New("the stream ended with no error")
	})
	// Two subjects, two subscriptions: the events may arrive in either
	// order, and later than a request may.
	k.check("events", func() error { return k.events(true) })
	// NestJS's NatsContext does not expose body metadata; the call must
	// work all the same.
	k.check("metadata", k.metadata)
	k.check("200 concurrent calls", k.concurrentSum2(200))
	k.check("cancelled call", k.cancelledCall)
	k.check("stream abandoned", k.streamAbandoned)
	k.check("after errors", k.call("sum", []int{1}, 1))
}
