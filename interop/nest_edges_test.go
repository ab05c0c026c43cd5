package interop_test

// Edge cases against real NestJS of each major, both directions:
// patterns whose string values hold '"' or '\' (NestJS 10 writes them into
// the route key unescaped, 11.1.18+ escapes them), keys that localeCompare
// orders apart from code point order, non-BMP characters in patterns,
// streams of zero values and streams that fail after some values, falsy
// RpcException payloads passed through an exception filter (the filter of
// the NestJS docs: throwError(() => exception.getError())), and a large
// payload made only of astral characters (its frame length, in UTF-16
// units, is half its byte length).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// edgePatterns are the object patterns both sides register: the name of
// each is its reply ("<name>-ok").
var edgePatterns = map[string]map[string]any{
	"quote":     {"cmd": `say "hi"`},
	"backslash": {"cmd": `C:\dir\n`},
	"case-keys": {"cmd": "k", "Cmd": "K", "_u": 1, "b": 2, "B": 3},
	"astral":    {"😀": "𝄞", "cmd": "é"},
	"numbers":   {"cmd": "num", "a": 1e21, "b": 0.1, "c": math.Copysign(0, -1), "d": 1e-7, "e": 9007199254740993.0, "f": -1.5},
	"mixed":     {"cmd": "mix", "t": true, "f": false, "n": nil, "arr": []any{1, "x", []any{2}, map[string]any{"z": 1, "a": 2}}},
	"deep":      {"cmd": "deep", "a": map[string]any{"b": map[string]any{"c": map[string]any{"d": map[string]any{"e": map[string]any{"f": map[string]any{"g": 1}}}}}}},
}

const edgeAstralString = "😀🚀"

// manyValue is the i-th value of the "many" stream.
func manyValue(i int) string { return strings.Repeat("😀é", i%7) + strconv.Itoa(i) }

// astralText is 300,000 U+1F600: 600,000 UTF-16 units, 1.2 MB of UTF-8.
var astralText = strings.Repeat("😀", 300_000)

// writeNestScript writes src (with __DIR__ replaced by nestjs/ as a file
// URL) to a temporary file and returns its path.
func writeNestScript(t *testing.T, name, src string) string {
	t.Helper()
	dir, err := filepath.Abs("nestjs")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(script, []byte(strings.ReplaceAll(src, "__DIR__", "file://"+filepath.ToSlash(dir))), 0o644); err != nil {
		t.Fatal(err)
	}
	return script
}

const edgeClientScript = `
import { parseCli, loadNest } from '__DIR__/cli.mjs';
import { scenarioKit, runScenarios, closeAndExit } from '__DIR__/scenarios.mjs';
const { args, port } = parseCli('edge-client.mjs', '--port N');
const nest = await loadNest(args.nest);
const { ClientProxyFactory, Transport } = nest.microservices;
const { firstValueFrom, lastValueFrom, toArray } = nest.rxjs;
const { withTimeout, errorValue } = scenarioKit(nest);
const client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: args.host, port } });
const send = (p, d) => firstValueFrom(withTimeout(client.send(p, d)));
const all = (p, d) => lastValueFrom(withTimeout(client.send(p, d)).pipe(toArray()));
const patterns = JSON.parse(process.env.EDGE_PATTERNS);
const astral = '😀'.repeat(300000);
const manyValue = (i) => '😀é'.repeat(i % 7) + i;
const scenarios = [
  ...Object.entries(patterns).map(([name, p]) => [name, { result: name + '-ok' }, () => send(p, {})]),
  ['astral-string-pattern', { result: 'astral-string-ok' }, () => send('😀🚀', {})],
  ['empty-stream', { result: [] }, () => all('empty', {})],
  // The values before the error, and the error.
  ['mid-error', { result: { values: [1, 2], error: { status: 'error', message: 'mid' } } }, () =>
    new Promise((resolve) => {
      const values = [];
      withTimeout(client.send('midfail', {})).subscribe({
        next: (v) => values.push(v),
        error: (e) => resolve({ values, error: errorValue(e) }),
        complete: () => resolve({ values, error: null }),
      });
    })],
  ['astral-large', { result: { length: 600000, equal: true } }, async () => {
    const r = await send('echo', astral);
    return { length: astral.length, equal: r === astral };
  }],
  ['events', { result: Object.keys(patterns).sort() }, async () => {
    for (const [name, p] of Object.entries(patterns)) {
      await lastValueFrom(withTimeout(client.emit({ ...p, evt: 1 }, name)), { defaultValue: undefined });
    }
    let seen = [];
    for (let i = 0; i < 50 && seen.length < Object.keys(patterns).length; i++) {
      await new Promise((r) => setTimeout(r, 40));
      seen = seen.concat(await send('seen', {}));
    }
    return seen.sort();
  }],
  ['many-values', { result: { count: 5000, allCorrect: true } }, async () => {
    const got = await all('many', 5000);
    return { count: got.length, allCorrect: got.every((v, i) => v === manyValue(i)) };
  }],
  ['after', { result: 'quote-ok' }, () => send(patterns.quote, {})],
];
await runScenarios(scenarios, { errorValue });
await closeAndExit(client);
`

// edgeGoServer serves the edge patterns, "empty", "midfail" and "echo".
func edgeGoServer(t *testing.T) *rpc.Server {
	t.Helper()
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1}, discard())
	for name, p := range edgePatterns {
		reply := name + "-ok"
		srv.Handle(p, rpc.Func(func(json.RawMessage) (any, error) { return reply, nil }))
	}
	var mu sync.Mutex
	var seen []string
	for _, p := range edgePatterns {
		ep := maps.Clone(p)
		ep["evt"] = 1
		srv.HandleEvent(ep, rpc.Event(func(_ context.Context, name string) error {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, name)
			return nil
		}))
	}
	srv.Handle("seen", rpc.Func(func(json.RawMessage) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		out := append([]string{}, seen...)
		seen = nil
		return out, nil
	}))
	srv.Handle(edgeAstralString, rpc.Func(func(json.RawMessage) (any, error) { return "astral-string-ok", nil }))
	srv.Handle("echo", rpc.Func(func(d json.RawMessage) (any, error) { return d, nil }))
	srv.Handle("empty", rpc.Stream(func(context.Context, json.RawMessage) iter.Seq2[int, error] {
		return func(func(int, error) bool) {}
	}))
	srv.Handle("many", rpc.Stream(func(_ context.Context, n int) iter.Seq2[string, error] {
		return func(yield func(string, error) bool) {
			for i := range n {
				if !yield(manyValue(i), nil) {
					return
				}
			}
		}
	}))
	srv.Handle("midfail", rpc.Stream(func(context.Context, json.RawMessage) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			if yield(1, nil) && yield(2, nil) {
				yield(0, rpc.NewError("mid"))
			}
		}
	}))
	return srv
}

// edgeScript finds node, hands the edge patterns to the NestJS side (in
// EDGE_PATTERNS) and writes its script.
func edgeScript(t *testing.T, name, src string) (node, script string) {
	node = requireNode(t)
	pj, _ := json.Marshal(edgePatterns)
	t.Setenv("EDGE_PATTERNS", string(pj))
	return node, writeNestScript(t, name, src)
}

// TestNestClientEdgesToGoServer: a NestJS ClientProxy of each major calls
// the edge patterns of our server.
func TestNestClientEdgesToGoServer(t *testing.T) {
	node, script := edgeScript(t, "edge-client.mjs", edgeClientScript)
	for _, v := range nestMajors {
		t.Run("nest"+v, func(t *testing.T) {
			srv := edgeGoServer(t)
			port := startServer(t, srv)
			results := runScenarioScript(t, node, v, 2*time.Minute, script, "--nest", v, "--host", "127.0.0.1", "--port", port)
			if len(results) != len(edgePatterns)+7 {
				t.Errorf("%d scenarios reported, want %d", len(results), len(edgePatterns)+7)
			}
			for _, r := range results {
				if !r.OK {
					t.Errorf("scenario %s failed: result=%s error=%s", r.Scenario, r.Result, r.Error)
				}
			}
		})
	}
}

const edgeServerScript = `
import { parseCli, loadNest } from '__DIR__/cli.mjs';
import { serveTcp } from '__DIR__/serve.mjs';
const { args, port } = parseCli('edge-server.mjs', '[--port N]', {}, { anyPort: true });
const nest = await loadNest(args.nest);
const { Controller, Module, Catch, UseFilters } = nest.common;
const { MessagePattern, EventPattern, RpcException } = nest.microservices;
const { of, from, EMPTY, concat, throwError } = nest.rxjs;
const patterns = JSON.parse(process.env.EDGE_PATTERNS);
// The exception filter of the NestJS docs: the RpcException's error as is.
class PassThrough { catch(exception) { return throwError(() => exception.getError()); } }
Catch(RpcException)(PassThrough);
class C {
  empty() { return EMPTY; }
  midfail() { return concat(of(1, 2), throwError(() => new RpcException('mid'))); }
  falsy(data) { throw new RpcException(data.v); }
  echo(data) { return data; }
  astralString() { return 'astral-string-ok'; }
  many(n) { return from(Array.from({ length: n }, (_, i) => '😀é'.repeat(i % 7) + i)); }
}
const decorate = (d, m) => d(C.prototype, m, Object.getOwnPropertyDescriptor(C.prototype, m));
for (const [name, p] of Object.entries(patterns)) {
  const m = 'p_' + name;
  C.prototype[m] = function () { return name + '-ok'; };
  decorate(MessagePattern(p), m);
}
const seen = [];
for (const [name, p] of Object.entries(patterns)) {
  const m = 'e_' + name;
  C.prototype[m] = function (data) { seen.push(data); };
  decorate(EventPattern({ ...p, evt: 1 }), m);
}
C.prototype.seen = function () { return seen.splice(0, seen.length); };
decorate(MessagePattern('seen'), 'seen');
decorate(MessagePattern('empty'), 'empty');
decorate(MessagePattern('midfail'), 'midfail');
decorate(UseFilters(new PassThrough()), 'falsy');
decorate(MessagePattern('falsy'), 'falsy');
decorate(MessagePattern('echo'), 'echo');
decorate(MessagePattern('many'), 'many');
decorate(MessagePattern('😀🚀'), 'astralString');
Controller()(C);
class M {}
Module({ controllers: [C] })(M);
await serveTcp(nest, M, { host: args.host, port });
`

// TestGoClientEdgesToNestServer: our client calls the edge patterns of a
// NestJS server of each major.
func TestGoClientEdgesToNestServer(t *testing.T) {
	node, script := edgeScript(t, "edge-server.mjs", edgeServerScript)
	for _, v := range nestMajors {
		t.Run("nest"+v, func(t *testing.T) {
			p := startNestTCP(t, node, v, script)
			c := newNestClient(t, p.addr())
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			k := contractChecks{t: t, ctx: ctx, c: c}
			for name, pat := range edgePatterns {
				k.check(name, k.call(pat, map[string]any{}, name+"-ok"))
			}
			k.check("astral string pattern", k.call(edgeAstralString, map[string]any{}, "astral-string-ok"))
			k.check("empty stream", func() error {
				n := 0
				for _, err := range c.Stream(ctx, "empty", map[string]any{}) {
					if err != nil {
						return err
					}
					n++
				}
				return wantEqual(n, 0)
			})
			k.check("error mid-stream", func() error {
				var got []int
				var last error
				for v, err := range rpc.StreamOf[int](ctx, c, "midfail", map[string]any{}) {
					if err != nil {
						last = err
						break
					}
					got = append(got, v)
				}
				if err := wantEqual(got, []int{1, 2}); err != nil {
					return err
				}
				re, err := remoteError(last)
				if err != nil {
					return err
				}
				if re.Message != "mid" {
					return errors.New("error message " + re.Message + ", want mid")
				}
				return nil
			})
			// A NestJS ClientProxy ignores a falsy err: the call completes
			// with no value (firstValueFrom rejects with EmptyError,
			// toArray gives []). A truthy one is an error.
			for _, falsy := range []any{0, "", false, nil} {
				k.check("falsy err "+string(mustJSON(falsy)), func() error {
					var n int
					for _, err := range c.Stream(ctx, "falsy", map[string]any{"v": falsy}) {
						if err != nil {
							return err
						}
						n++
					}
					return wantEqual(n, 0)
				})
			}
			k.check("truthy err", func() error {
				re, err := remoteError(c.Send(ctx, "falsy", map[string]any{"v": "x"}, nil))
				if err != nil {
					return err
				}
				return wantEqual(string(re.Payload), `"x"`)
			})
			k.check("astral 1.2 MB echo", func() error {
				got, err := rpc.Call[string, string](ctx, c, "echo", astralText)
				if err != nil {
					return err
				}
				if got != astralText {
					return errors.New("echo differs")
				}
				return nil
			})
			k.check("events", func() error {
				var want []string
				for name, p := range edgePatterns {
					ep := maps.Clone(p)
					ep["evt"] = 1
					if err := c.Emit(ctx, ep, name); err != nil {
						return err
					}
					want = append(want, name)
				}
				got, err := pollEvents[string](ctx, c, "seen", len(want))
				if err != nil {
					return err
				}
				slices.Sort(got)
				slices.Sort(want)
				return wantEqual(got, want)
			})
			k.check("5000-value stream", func() error {
				i := 0
				for v, err := range rpc.StreamOf[string](ctx, c, "many", 5000) {
					if err != nil {
						return err
					}
					if v != manyValue(i) {
						return fmt.Errorf("value %d is %q, want %q", i, v, manyValue(i))
					}
					i++
				}
				return wantEqual(i, 5000)
			})
			k.check("after", k.call(edgePatterns["quote"], map[string]any{}, "quote-ok"))
		})
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
