package interop_test

// More of what a NestJS user's server does, against our client: Observables
// that emit on later ticks (NestJS then sends the completion as a frame of
// its own, {"isDisposed":true,"id":…}), that fail after values on a later
// tick, that complete on a later tick without a value; errors of other
// shapes (RpcException of a number, an array, an object without status;
// rejected Promises; a thrown string); a 5 MB mixed reply; many streams
// interleaved on one connection; and a server that closes one connection
// (socket.destroy() / socket.end()) under pending calls.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/msgpattern/msgpattern/rpc"
)

const moreServerScript = `
import { parseCli, loadNest } from '__DIR__/cli.mjs';
import { serveTcp } from '__DIR__/serve.mjs';
const { args, port } = parseCli('more-server.mjs', '[--port N]', {}, { anyPort: true });
const nest = await loadNest(args.nest);
const { Controller, Module } = nest.common;
const { MessagePattern, EventPattern, RpcException, Ctx } = nest.microservices;
const { Observable } = nest.rxjs;
// Emits values on separate ticks, then completes (or fails) on a later one.
const ticking = (values, end) => new Observable((s) => {
  let i = 0;
  const t = setInterval(() => {
    if (i < values.length) { s.next(values[i++]); return; }
    clearInterval(t);
    end ? s.error(end()) : s.complete();
  }, 5);
  return () => clearInterval(t);
});
let lastSocket = null;
class C {
  asyncStream(n) { return ticking(Array.from({ length: n }, (_, i) => i + 1)); }
  asyncMidError() { return ticking([1, 2], () => new RpcException('mid')); }
  asyncMidPlain() { return ticking([1, 2], () => new Error('secret')); }
  asyncEmpty() { return ticking([]); }
  rpcNumber() { throw new RpcException(42); }
  rpcArray() { throw new RpcException(['a', 'b']); }
  rpcNoStatus() { throw new RpcException({ code: 'E_VALIDATION', message: ['name must be a string'] }); }
  rejectRpc() { return Promise.reject(new RpcException('rejected')); }
  rejectPlain() { return Promise.reject(new Error('secret')); }
  throwString() { throw 'oops'; }
  echo(data) { return data; }
  slow(ms) { return new Promise((r) => setTimeout(() => r('slow:' + ms), ms)); }
  destroy(_d, ctx) { setTimeout(() => ctx.getSocketRef().socket.destroy(), 50); return 'bye'; }
  end(_d, ctx) { ctx.getSocketRef().socket.end(); }
}
const decorate = (d, m) => d(C.prototype, m, Object.getOwnPropertyDescriptor(C.prototype, m));
Ctx()(C.prototype, 'destroy', 1);
Ctx()(C.prototype, 'end', 1);
for (const m of Object.getOwnPropertyNames(C.prototype)) {
  if (m !== 'constructor') decorate(MessagePattern(m), m);
}
Controller()(C);
class M {}
Module({ controllers: [C] })(M);
await serveTcp(nest, M, { host: args.host, port });
`

// collectInts reads a stream of ints: the values, and the error it ended with.
func collectInts(ctx context.Context, c *rpc.Client, pattern string, data any) ([]int, error) {
	var got []int
	for v, err := range rpc.StreamOf[int](ctx, c, pattern, data) {
		if err != nil {
			return got, err
		}
		got = append(got, v)
	}
	return got, nil
}

func TestGoClientMoreNestServerEdges(t *testing.T) {
	node := requireNode(t)
	script := writeNestScript(t, "more-server.mjs", moreServerScript)
	for _, v := range nestMajors {
		t.Run("nest"+v, func(t *testing.T) {
			t.Parallel()
			p := startNestTCP(t, node, v, script)
			c := newNestClient(t, p.addr())
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			k := contractChecks{t: t, ctx: ctx, c: c}

			k.check("async stream", func() error {
				got, err := collectInts(ctx, c, "asyncStream", 3)
				if err != nil {
					return err
				}
				return wantEqual(got, []int{1, 2, 3})
			})
			k.check("async stream, Send takes the last value", k.call("asyncStream", 3, 3))
			k.check("async error after values", func() error {
				got, err := collectInts(ctx, c, "asyncMidError", map[string]any{})
				if err := wantEqual(got, []int{1, 2}); err != nil {
					return err
				}
				re, rerr := remoteError(err)
				if rerr != nil {
					return rerr
				}
				return wantEqual(string(re.Payload), `{"status":"error","message":"mid"}`)
			})
			k.check("async error after values, Send", func() error {
				var out int
				re, err := remoteError(c.Send(ctx, "asyncMidError", map[string]any{}, &out))
				if err != nil {
					return err
				}
				return wantEqual(re.Message, "mid")
			})
			k.check("async plain error after values", func() error {
				got, err := collectInts(ctx, c, "asyncMidPlain", map[string]any{})
				if err := wantEqual(got, []int{1, 2}); err != nil {
					return err
				}
				re, rerr := remoteError(err)
				if rerr != nil {
					return rerr
				}
				return wantEqual(re.Message, "Internal server error")
			})
			k.check("async empty", func() error {
				got, err := collectInts(ctx, c, "asyncEmpty", map[string]any{})
				if err != nil {
					return err
				}
				if len(got) != 0 {
					return fmt.Errorf("got %v, want no value", got)
				}
				var raw json.RawMessage
				if err := c.Send(ctx, "asyncEmpty", map[string]any{}, &raw); err != nil || raw != nil {
					return fmt.Errorf("Send: %q, %v; want no value, no error", raw, err)
				}
				return nil
			})
			for _, tc := range []struct{ pattern, payload, status, message string }{
				{"rpcNumber", `{"status":"error","message":42}`, "error", "42"},
				{"rpcArray", `["a","b"]`, "", ""},
				{"rpcNoStatus", `{"code":"E_VALIDATION","message":["name must be a string"]}`, "", `["name must be a string"]`},
				{"rejectRpc", `{"status":"error","message":"rejected"}`, "error", "rejected"},
				{"rejectPlain", `{"status":"error","message":"Internal server error"}`, "error", "Internal server error"},
				{"throwString", `{"status":"error","message":"Internal server error"}`, "error", "Internal server error"},
			} {
				k.check(tc.pattern, func() error {
					re, err := remoteError(c.Send(ctx, tc.pattern, map[string]any{}, nil))
					if err != nil {
						return err
					}
					return wantEqual([3]string{string(re.Payload), re.Status, re.Message}, [3]string{tc.payload, tc.status, tc.message})
				})
			}
			k.check("5 MB mixed echo", func() error {
				s := strings.Repeat(largeText(), 5)
				got, err := rpc.Call[string, string](ctx, c, "echo", s)
				if err != nil {
					return err
				}
				if got != s {
					return fmt.Errorf("echo of %d bytes (%d UTF-16 units) differs", len(s), len(utf16.Encode([]rune(s))))
				}
				return nil
			})
			k.check("100 interleaved async streams", func() error {
				const n = 100
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						m := 1 + i%5
						got, err := collectInts(ctx, c, "asyncStream", m)
						if err == nil && len(got) != m {
							err = fmt.Errorf("stream of %d: got %v", m, got)
						}
						errs[i] = err
					})
				}
				wg.Wait()
				return errors.Join(errs...)
			})
			if m := c.Metrics(); m.Reconnects != 0 {
				t.Errorf("%d reconnects before the connection-closing checks, want 0", m.Reconnects)
			}
		})
	}
}

// TestGoClientNestServerClosesConnection: a NestJS handler closes its
// client's socket (destroy, or end) while other calls are pending on it:
// they fail promptly with ErrConnectionLost, an idempotent one is sent again
// on a new connection and gets its reply, and the client goes on.
func TestGoClientNestServerClosesConnection(t *testing.T) {
	node := requireNode(t)
	script := writeNestScript(t, "more-server.mjs", moreServerScript)
	for _, v := range nestMajors {
		for _, how := range []string{"destroy", "end"} {
			t.Run("nest"+v+"/"+how, func(t *testing.T) {
				t.Parallel()
				p := startNestTCP(t, node, v, script)
				c := newNestClient(t, p.addr(), rpc.WithReconnectBackoff(10*time.Millisecond, 100*time.Millisecond))
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				if got, err := rpc.Call[int, string](ctx, c, "slow", 1); err != nil || got != "slow:1" {
					t.Fatalf("slow 1 = %q, %v", got, err)
				}
				plain := make(chan error, 1)
				idem := make(chan error, 1)
				go func() { _, err := rpc.Call[int, string](ctx, c, "slow", 5000); plain <- err }()
				go func() {
					got, err := rpc.Call[int, string](ctx, c, "slow", 300, rpc.Idempotent())
					if err == nil && got != "slow:300" {
						err = fmt.Errorf("got %q", got)
					}
					idem <- err
				}()
				waitUntil(t, "2 calls pending", 10*time.Second, func() bool { return c.Metrics().InFlight == 2 })
				time.Sleep(100 * time.Millisecond)
				start := time.Now()
				_ = c.Send(ctx, how, map[string]any{}, nil)
				select {
				case err := <-plain:
					if !errors.Is(err, rpc.ErrConnectionLost) {
						t.Errorf("pending call: got %v, want ErrConnectionLost", err)
					}
					if d := time.Since(start); d > 3*time.Second {
						t.Errorf("pending call failed %v after the close", d)
					}
				case <-time.After(4500 * time.Millisecond):
					t.Errorf("pending call still hangs 4.5 s after the server closed the connection")
				}
				if err := <-idem; err != nil {
					t.Errorf("idempotent call: %v, want it resent on a new connection", err)
				}
				if got, err := rpc.Call[[]int, []int](ctx, c, "echo", []int{1}); err != nil {
					t.Errorf("after the close: %v, %v", got, err)
				}
			})
		}
	}
}

// TestGoClientConcurrentLargeEchoes: 8 echoes of 1 MiB of mixed text at
// once on one connection: NestJS 11 and 12 stop reading a socket whose
// writes are backed up, while our client writes requests and reads replies.
func TestGoClientConcurrentLargeEchoes(t *testing.T) {
	node := requireNode(t)
	script := writeNestScript(t, "more-server.mjs", moreServerScript)
	for _, v := range nestMajors {
		t.Run("nest"+v, func(t *testing.T) {
			p := startNestTCP(t, node, v, script)
			c := newNestClient(t, p.addr())
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			base := largeText()
			const n = 8 // 8 MiB each way: far past both sides' socket buffers
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					s := fmt.Sprint(i) + base
					got, err := rpc.Call[string, string](ctx, c, "echo", s)
					if err == nil && got != s {
						err = fmt.Errorf("echo %d differs", i)
					}
					errs[i] = err
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Error(err)
			}
		})
	}
}
