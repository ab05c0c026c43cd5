package interop_test

// Checks of the demo contract served by NestJS (server.mjs over TCP,
// nats-server.mjs over NATS), shared by testNestContract and
// testNestNATSContract: each runs them through its own rpc.Caller, in its
// own order, with the checks only one transport has in between.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// traceparent is the trace context the tests send as metadata (and that
// nats-client.mjs sends with NestJS 12).
const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// contractChecks calls a NestJS demo server through c, within ctx.
type contractChecks struct {
	t   *testing.T
	ctx context.Context
	c   rpc.Caller
}

// check runs f and reports its error under name.
func (k contractChecks) check(name string, f func() error) {
	k.t.Helper()
	if err := f(); err != nil {
		k.t.Errorf("%s: %v", name, err)
	}
}

// wantEqual is nil when got and want are deeply equal.
func wantEqual(got, want any) error {
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("got %#v, want %#v", got, want)
	}
	return nil
}

// remoteError is err as a *rpc.Error, or an error saying it is not one.
func remoteError(err error) (*rpc.Error, error) {
	var re *rpc.Error
	if !errors.As(err, &re) {
		return nil, fmt.Errorf("got error %v (%T), want a *rpc.Error", err, err)
	}
	return re, nil
}

// pollEvents calls pattern, a NestJS handler that returns and clears the
// events it received so far (NestJS runs an event's handler
// asynchronously), until it has returned want of them in all, for up to
// 10 s, and returns them.
func pollEvents[T any](ctx context.Context, c rpc.Caller, pattern string, want int) ([]T, error) {
	var got []T
	for deadline := time.Now().Add(10 * time.Second); len(got) < want && time.Now().Before(deadline); {
		batch, err := rpc.Call[map[string]any, []T](ctx, c, pattern, map[string]any{})
		if err != nil {
			return got, fmt.Errorf("%s: %w", pattern, err)
		}
		got = append(got, batch...)
		if len(got) < want {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return got, nil
}

// call sends data to pattern and compares the reply with expect, as JSON
// values.
func (k contractChecks) call(pattern any, data any, expect any) func() error {
	return func() error {
		var got any
		if err := k.c.Send(k.ctx, pattern, data, &got); err != nil {
			return err
		}
		var exp any
		b, _ := json.Marshal(expect)
		json.Unmarshal(b, &exp)
		return wantEqual(got, exp)
	}
}

// checkPatterns calls patterns of every kind: a string, a number (also
// with null data: a Nest ClientProxy refuses it, ours sends it and a Nest
// server takes it), objects (member order does not matter, nesting
// included), and echoes unicode.
func (k contractChecks) checkPatterns() {
	k.t.Helper()
	k.check("string pattern", k.sum)
	k.check("number pattern", k.call(42, map[string]any{}, "forty-two"))
	k.check("null data", k.call(42, nil, "forty-two"))
	k.check("object pattern", k.call(map[string]any{"role": "math", "cmd": "sum2"}, []int{1, 2}, "sum2:3"))
	k.check("nested object pattern", k.call(map[string]any{"cmd": "nested", "opts": map[string]any{"z": 1, "a": "x"}}, 1, "nested-ok"))
	k.check("unicode echo", k.call("echo", unicodeText, unicodeText))
}

// checkStreamAndErrors reads a stream and the errors a NestJS handler can
// end with.
// echoLarge echoes largeText (1 MiB of mixed text, astral included).
func (k contractChecks) echoLarge() error {
	s := largeText()
	got, err := rpc.Call[string, string](k.ctx, k.c, "echo", s)
	if err != nil {
		return err
	}
	if got != s {
		return fmt.Errorf("echo of %d bytes came back as %d bytes, different", len(s), len(got))
	}
	return nil
}

func (k contractChecks) checkStreamAndErrors() {
	k.t.Helper()
	k.check("stream", k.stream)
	k.check("RpcException(string)", k.rpcExceptionString)
	k.check("RpcException(object)", k.rpcExceptionObject)
	k.check("plain Error", k.plainError)
}

// sum: "sum" of [1,2,3] is 6.
func (k contractChecks) sum() error {
	got, err := rpc.Call[[]int, int](k.ctx, k.c, "sum", []int{1, 2, 3})
	if err != nil {
		return err
	}
	return wantEqual(got, 6)
}

// stream: "stream3" yields 1, 2, 3.
func (k contractChecks) stream() error {
	var got []int
	for v, err := range rpc.StreamOf[int](k.ctx, k.c, "stream3", map[string]any{}) {
		if err != nil {
			return err
		}
		got = append(got, v)
	}
	return wantEqual(got, []int{1, 2, 3})
}

// rpcExceptionString: "fail" throws RpcException("bad input").
func (k contractChecks) rpcExceptionString() error {
	re, err := remoteError(k.c.Send(k.ctx, "fail", map[string]any{}, nil))
	if err != nil {
		return err
	}
	if re.Status != "error" || re.Message != "bad input" {
		return fmt.Errorf("got Status %q Message %q (raw %s), want error / bad input", re.Status, re.Message, re.Payload)
	}
	return nil
}

// rpcExceptionObject: "failobj" throws RpcException({status: 400, message:
// "bad"}).
func (k contractChecks) rpcExceptionObject() error {
	re, err := remoteError(k.c.Send(k.ctx, "failobj", map[string]any{}, nil))
	if err != nil {
		return err
	}
	if string(re.Payload) != `{"status":400,"message":"bad"}` || re.Status != "400" || re.Message != "bad" {
		return fmt.Errorf("got Payload %s Status %q Message %q, want {\"status\":400,\"message\":\"bad\"} / 400 / bad", re.Payload, re.Status, re.Message)
	}
	return nil
}

// plainError: "boom" throws a plain Error, which NestJS hides.
func (k contractChecks) plainError() error {
	re, err := remoteError(k.c.Send(k.ctx, "boom", map[string]any{}, nil))
	if err != nil {
		return err
	}
	if re.Message != "Internal server error" {
		return fmt.Errorf("got Message %q (raw %s), want Internal server error", re.Message, re.Payload)
	}
	return nil
}

// events emits "evt" {n:1} and {cmd:"evt"} {n:2}, then polls "events"
// until both are in. With anyOrder they may have arrived
// in either order.
func (k contractChecks) events(anyOrder bool) error {
	if err := k.c.Emit(k.ctx, "evt", map[string]int{"n": 1}); err != nil {
		return err
	}
	if err := k.c.Emit(k.ctx, map[string]any{"cmd": "evt"}, map[string]int{"n": 2}); err != nil {
		return err
	}
	got, err := pollEvents[map[string]int](k.ctx, k.c, "events", 2)
	if err != nil {
		return err
	}
	if anyOrder {
		sort.Slice(got, func(i, j int) bool { return got[i]["n"] < got[j]["n"] })
	}
	return wantEqual(got, []map[string]int{{"n": 1}, {"n": 2}})
}

// metadata: a call with metadata works (the demo server does not read it).
func (k contractChecks) metadata() error {
	var got int
	if err := k.c.Send(k.ctx, "sum", []int{2, 3}, &got, rpc.WithMetadata(map[string]string{"traceparent": traceparent})); err != nil {
		return err
	}
	return wantEqual(got, 5)
}

// concurrentSum2 makes n concurrent calls of {cmd:"sum2", role:"math"}.
func (k contractChecks) concurrentSum2(n int) func() error {
	return func() error {
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				got, err := rpc.Call[[]int, string](k.ctx, k.c, map[string]any{"cmd": "sum2", "role": "math"}, []int{i, 1})
				if err == nil && got != fmt.Sprintf("sum2:%d", i+1) {
					err = fmt.Errorf("sum2 [%d,1] = %q", i, got)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	}
}

// cancelledCall: the caller gives up on "slow"; the reply that comes later
// is dropped, and the next call gets its own.
func (k contractChecks) cancelledCall() error {
	// 1000 ms against 50: when the deadline and the reply are both ready
	// the caller's select picks at random, so a stall of 250 ms (within
	// reach of a loaded machine) would fail half the time with 300.
	cctx, ccancel := context.WithTimeout(k.ctx, 50*time.Millisecond)
	defer ccancel()
	if _, err := rpc.Call[int, string](cctx, k.c, "slow", 1000); !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("slow 1000 ms with a 50 ms deadline: got %v, want DeadlineExceeded", err)
	}
	// Still pending when the late reply comes.
	if got, err := rpc.Call[int, string](k.ctx, k.c, "slow", 1100); err != nil || got != "slow:1100" {
		return fmt.Errorf("slow 1100 after the cancelled call = %q, %v", got, err)
	}
	return nil
}

// streamAbandoned: a stream given up after its first value leaves the
// caller working.
func (k contractChecks) streamAbandoned() error {
	for v, err := range rpc.StreamOf[int](k.ctx, k.c, "stream3", map[string]any{}) {
		if err != nil || v != 1 {
			return fmt.Errorf("first value %d, %v", v, err)
		}
		break
	}
	return k.call("sum", []int{7, 8}, 15)()
}
