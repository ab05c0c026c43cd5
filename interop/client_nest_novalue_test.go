package interop_test

// A NestJS handler that returns undefined (or a Promise of it, or EMPTY)
// answers {"isDisposed":true,"id":…}: a reply with no value. A NestJS
// ClientProxy's firstValueFrom and lastValueFrom reject with rxjs's
// EmptyError for it (measured with NestJS 10, 11 and 12 clients against these
// handlers); a handler that returns null answers "response":null, a value.
// Our Send takes the first as a success that leaves out as it was (its
// documented behaviour): a port of `await firstValueFrom(send(...))` that
// relied on EmptyError for "not found" must test for it. This pins what
// Send, Call and Stream give for each, and the way to tell no value from
// null (a nil *json.RawMessage stays nil).

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

const noValueServerScript = `
import { parseCli, loadNest } from '__DIR__/cli.mjs';
import { serveTcp } from '__DIR__/serve.mjs';
const { args, port } = parseCli('novalue-server.mjs', '[--port N]', {}, { anyPort: true });
const nest = await loadNest(args.nest);
const { Controller, Module } = nest.common;
const { MessagePattern } = nest.microservices;
const { EMPTY } = nest.rxjs;
class C {
  undef() { return undefined; }
  promiseUndef() { return Promise.resolve(undefined); }
  empty() { return EMPTY; }
  nullv() { return null; }
}
const decorate = (d, m) => d(C.prototype, m, Object.getOwnPropertyDescriptor(C.prototype, m));
for (const m of ['undef', 'promiseUndef', 'empty', 'nullv']) decorate(MessagePattern(m), m);
Controller()(C);
class M {}
Module({ controllers: [C] })(M);
await serveTcp(nest, M, { host: args.host, port });
`

func TestGoClientNoValueReplies(t *testing.T) {
	node := requireNode(t)
	for _, major := range []string{"10", "12"} {
		t.Run("nest"+major, func(t *testing.T) {
			p := startNestTCP(t, node, major, writeNestScript(t, "novalue-server.mjs", noValueServerScript))
			c := newNestClient(t, p.addr())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			for _, pat := range []string{"undef", "promiseUndef", "empty"} {
				var raw json.RawMessage
				if err := c.Send(ctx, pat, map[string]any{}, &raw); err != nil || raw != nil {
					t.Errorf("%s: Send into a nil RawMessage gave %q, %v; want it left nil, no error (no value)", pat, raw, err)
				}
				out := 7
				if err := c.Send(ctx, pat, map[string]any{}, &out); err != nil || out != 7 {
					t.Errorf("%s: Send into an int holding 7 gave %d, %v; want 7 left as it was, no error", pat, out, err)
				}
				if v, err := rpc.Call[map[string]any, *int](ctx, c, pat, map[string]any{}); err != nil || v != nil {
					t.Errorf("%s: Call gave %v, %v; want the zero value, no error", pat, v, err)
				}
				n := 0
				for _, err := range c.Stream(ctx, pat, map[string]any{}) {
					if err != nil {
						t.Fatalf("%s: Stream: %v", pat, err)
					}
					n++
				}
				if n != 0 {
					t.Errorf("%s: Stream yielded %d values, want none", pat, n)
				}
			}

			var raw json.RawMessage
			if err := c.Send(ctx, "nullv", map[string]any{}, &raw); err != nil || string(raw) != "null" {
				t.Errorf("nullv: Send into a RawMessage gave %q, %v; want null", raw, err)
			}
			ptr := new(int)
			if err := c.Send(ctx, "nullv", map[string]any{}, &ptr); err != nil || ptr != nil {
				t.Errorf("nullv: Send into a *int gave %v, %v; want nil (null decoded)", ptr, err)
			}
		})
	}
}
