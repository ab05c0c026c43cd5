package interop_test

// NestJS over NATS, measured against itself: the same NestJS NATS
// ClientProxy runs the same calls against a real NestJS NATS microservice
// (natsDiffServerScript) and against our natsrpc server with the
// equivalent handlers (natsDiffGoServer); a NestJS user moving a service
// to Go must see the same results. Covered: streams that complete empty or
// fail midway, RpcException payloads of other shapes, a handler that
// throws (panics), a request to an event handler and an event to a
// message handler, and NATS headers set per message with NatsRecordBuilder.

import (
	"context"
	"encoding/json"
	"iter"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/rpc"
)

const natsDiffServerScript = `
import { parseNatsCli, loadNest } from '__DIR__/cli.mjs';
import { serve } from '__DIR__/serve.mjs';
const { args } = parseNatsCli('diff-server.mjs', '');
const nest = await loadNest(args.nest);
const { Controller, Module } = nest.common;
const { MessagePattern, EventPattern, RpcException, Ctx } = nest.microservices;
const { of, EMPTY, concat, throwError } = nest.rxjs;
const recorded = [];
class C {
  empty() { return EMPTY; }
  midfail() { return concat(of(1, 2), throwError(() => new RpcException('mid'))); }
  errobj() { throw new RpcException({ code: 7, detail: 'x' }); }
  errnum() { throw new RpcException(42); }
  crash() { throw new Error('boom'); }
  nullv() { return null; }
  evtonly(data) { recorded.push('evtonly:' + JSON.stringify(data)); }
  recmsg(data) { recorded.push('recmsg:' + JSON.stringify(data)); return 'ok'; }
  recorded() { return recorded.splice(0, recorded.length); }
  hdr(_data, ctx) { return ctx.getHeaders()?.get('x-h') ?? null; }
}
const decorate = (d, m) => d(C.prototype, m, Object.getOwnPropertyDescriptor(C.prototype, m));
for (const m of ['empty', 'midfail', 'errobj', 'errnum', 'crash', 'nullv', 'recmsg', 'recorded', 'hdr']) {
  decorate(MessagePattern(m), m);
}
decorate(EventPattern('evtonly'), 'evtonly');
Ctx()(C.prototype, 'hdr', 1);
Controller()(C);
class M {}
Module({ controllers: [C] })(M);
await serve(nest, M, { transport: nest.microservices.Transport.NATS, options: { servers: args.url } }, {
  listening: async (app) => { await app.serverInstance.unwrap().flush(); return args.url; },
});
`

const natsDiffClientScript = `
import { parseNatsCli, loadNest } from '__DIR__/cli.mjs';
import { scenarioKit, runScenarios, closeAndExit } from '__DIR__/scenarios.mjs';
const { args } = parseNatsCli('diff-client.mjs', '');
const nest = await loadNest(args.nest);
const { ClientProxyFactory, Transport, NatsRecordBuilder } = nest.microservices;
nest.common.Logger.overrideLogger(['error']);
const { lastValueFrom, firstValueFrom } = nest.rxjs;
const { withTimeout, errorValue } = scenarioKit(nest);
const client = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: args.url } });
await client.connect();
// Every value, then how the call ended: complete, or the error.
const collect = (p, d) => new Promise((resolve) => {
  const values = [];
  withTimeout(client.send(p, d)).subscribe({
    next: (v) => values.push(v === undefined ? 'UNDEFINED' : v),
    error: (e) => resolve({ values, error: errorValue(e) }),
    complete: () => resolve({ values, complete: true }),
  });
});
const recorded = async (want) => {
  let got = [];
  for (let i = 0; i < 100 && got.length < want; i++) {
    got = got.concat(await firstValueFrom(withTimeout(client.send('recorded', {}))));
    if (got.length < want) await new Promise((r) => setTimeout(r, 20));
  }
  return got;
};
const scenarios = [
  ['empty', undefined, () => collect('empty', {})],
  ['midfail', undefined, () => collect('midfail', {})],
  ['errobj', undefined, () => collect('errobj', {})],
  ['errnum', undefined, () => collect('errnum', {})],
  ['crash', undefined, () => collect('crash', {})],
  ['nullv', undefined, () => collect('nullv', {})],
  ['send-to-event', undefined, async () => ({ reply: await collect('evtonly', 1), recorded: await recorded(1) })],
  ['emit-to-message', undefined, async () => {
    await lastValueFrom(withTimeout(client.emit('recmsg', 2)), { defaultValue: undefined });
    return await recorded(1);
  }],
  ['record-headers', undefined, () => collect('hdr', new NatsRecordBuilder({}).setHeaders(headersOf({ 'x-h': 'v1' })).build())],
];
function headersOf(h) {
  // nats 2.x (v11) exports headers(); @nats-io/nats-core 3.x (v12) too.
  const mh = natsHeaders();
  for (const [k, v] of Object.entries(h)) mh.set(k, v);
  return mh;
}
function natsHeaders() { return globalThis.__natsHeaders(); }
const mod = args.nest === '11' ? await import('__DIR__/v11/node_modules/nats/lib/src/mod.js') : await import('__DIR__/v12/node_modules/@nats-io/transport-node/lib/mod.js');
globalThis.__natsHeaders = mod.headers;
await runScenarios(scenarios, { errorValue });
await closeAndExit(client);
`

// natsDiffGoServer is natsDiffServerScript's module in Go.
func natsDiffGoServer() *rpc.Server {
	srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1}, discard())
	srv.Handle("empty", rpc.Stream(func(context.Context, json.RawMessage) iter.Seq2[int, error] {
		return func(func(int, error) bool) {}
	}))
	srv.Handle("midfail", rpc.Stream(func(context.Context, json.RawMessage) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			if yield(1, nil) && yield(2, nil) {
				yield(0, rpc.NewError("mid"))
			}
		}
	}))
	srv.Handle("errobj", rpc.Func(func(json.RawMessage) (any, error) {
		e, err := rpc.NewErrorObject(map[string]any{"code": 7, "detail": "x"})
		if err != nil {
			return nil, err
		}
		return nil, e
	}))
	srv.Handle("errnum", rpc.Func(func(json.RawMessage) (any, error) {
		return nil, &rpc.Error{Payload: json.RawMessage("42")}
	}))
	srv.Handle("crash", rpc.Func(func(json.RawMessage) (any, error) { panic("boom") }))
	srv.Handle("nullv", rpc.Func(func(json.RawMessage) (any, error) { return nil, nil }))
	var mu sync.Mutex
	var recorded []string
	record := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		recorded = append(recorded, s)
	}
	srv.HandleEvent("evtonly", rpc.Event(func(_ context.Context, n json.RawMessage) error {
		record("evtonly:" + string(n))
		return nil
	}))
	srv.Handle("recmsg", rpc.Func(func(n json.RawMessage) (any, error) {
		record("recmsg:" + string(n))
		return "ok", nil
	}))
	srv.Handle("recorded", rpc.Func(func(json.RawMessage) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		out := append([]string{}, recorded...)
		recorded = nil
		return out, nil
	}))
	srv.Handle("hdr", rpc.HandlerFunc(func(_ context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
		if v := r.Header()["x-h"]; len(v) > 0 {
			return w.Send(v[0])
		}
		return w.Send(nil)
	}))
	return srv
}

func TestNestNATSClientSeesGoAsNest(t *testing.T) {
	node := requireNode(t)
	client := writeNestScript(t, "diff-client.mjs", natsDiffClientScript)
	server := writeNestScript(t, "diff-server.mjs", natsDiffServerScript)
	for _, v := range natsMajors {
		t.Run("nest"+v, func(t *testing.T) {
			nestNS := natstest.Run(t, nil)
			startNestProc(t, node, v, server, "--url", nestNS.ClientURL())
			want := runScenarioScript(t, node, v, 2*time.Minute, client, "--nest", v, "--url", nestNS.ClientURL())

			goNS := natstest.Run(t, nil)
			natstest.Serve(t, natsDiffGoServer(), goNS.ClientURL())
			got := runScenarioScript(t, node, v, 2*time.Minute, client, "--nest", v, "--url", goNS.ClientURL())
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("%d scenarios against Go, %d against NestJS", len(got), len(want))
			}
			for i := range want {
				w, g := want[i], got[i]
				t.Logf("%s: nest result=%s error=%s | go result=%s error=%s", w.Scenario, w.Result, w.Error, g.Result, g.Error)
				if string(mustCompact(w.Result)) != string(mustCompact(g.Result)) || string(mustCompact(w.Error)) != string(mustCompact(g.Error)) {
					t.Errorf("%s: against NestJS result=%s error=%s; against Go result=%s error=%s", w.Scenario, w.Result, w.Error, g.Result, g.Error)
				}
			}
		})
	}
}

func mustCompact(b []byte) []byte {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return b
	}
	out, _ := json.Marshal(v)
	return out
}

// TestGoNATSClientSeesNestAsGo: our natsrpc.Client makes the same calls to
// the NestJS microservice and to our server with the equivalent handlers.
func TestGoNATSClientSeesNestAsGo(t *testing.T) {
	node := requireNode(t)
	server := writeNestScript(t, "diff-server.mjs", natsDiffServerScript)
	run := func(t *testing.T, url string) []string {
		c := natstest.Dial(t, url)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var out []string
		for _, p := range []string{"empty", "midfail", "errobj", "errnum", "crash", "nullv", "evtonly", "hdr", "nope"} {
			var raw json.RawMessage
			err := c.Send(ctx, p, map[string]any{}, &raw)
			s := p + " send: " + string(raw) + " err=" + errString(err)
			for v, err := range c.Stream(ctx, p, map[string]any{}) {
				s += " | " + string(v) + " " + errString(err)
			}
			out = append(out, s)
		}
		if err := c.Emit(ctx, "recmsg", 2); err != nil {
			t.Fatal(err)
		}
		got, err := pollEvents[string](ctx, c, "recorded", 3)
		out = append(out, "recorded: "+string(mustJSON(got))+" "+errString(err))
		return out
	}
	for _, v := range natsMajors {
		t.Run("nest"+v, func(t *testing.T) {
			nestNS := natstest.Run(t, nil)
			startNestProc(t, node, v, server, "--url", nestNS.ClientURL())
			want := run(t, nestNS.ClientURL())
			goNS := natstest.Run(t, nil)
			natstest.Serve(t, natsDiffGoServer(), goNS.ClientURL())
			got := run(t, goNS.ClientURL())
			for i := range want {
				t.Logf("nest: %s\n  go: %s", want[i], got[i])
				if want[i] != got[i] {
					t.Errorf("differs:\nnest: %s\n  go: %s", want[i], got[i])
				}
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
