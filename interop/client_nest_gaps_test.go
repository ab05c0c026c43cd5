package interop_test

// Go client against real NestJS servers, in two places where it once did
// not do what a NestJS ClientProxy does with the same server:
//
//   - a NestJS Observable that emits undefined: the server sends a frame
//     with no "response" member ({"id":…}); a NestJS 12 ClientProxy
//     delivers a value for it (toArray() gives [1, undefined, 3]);
//   - emit() of an object pattern of more than 20 keys (or nested deeper
//     than 5) to a NestJS 10 server: a NestJS 10 ClientProxy's event reaches
//     the @EventPattern handler.
//
// The NestJS server is a small script written to a temporary directory; it
// loads the pinned majors through nestjs/cli.mjs and nestjs/serve.mjs.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const gapsServerScript = `
import { parseCli, loadNest } from '__DIR__/cli.mjs';
import { serveTcp } from '__DIR__/serve.mjs';
const { args, port } = parseCli('gaps-server.mjs', '[--port N]', {}, { anyPort: true });
const nest = await loadNest(args.nest);
const { Controller, Module } = nest.common;
const { MessagePattern, EventPattern } = nest.microservices;
const { of, Observable } = nest.rxjs;
const seen = [];
const keys21 = {};
for (let i = 0; i < 21; i++) keys21['k' + i] = i;
class C {
  // A stream with an undefined value in the middle: frames
  // {"response":1,"id":…} {"id":…} {"response":3,"isDisposed":true,"id":…}
  withUndefined() { return of(1, undefined, 3); }
  // Three undefined values, each in its own frame, then completion.
  voids() {
    return new Observable((s) => {
      let n = 0;
      const tick = () => { if (n++ < 3) { s.next(undefined); setTimeout(tick, 20); } else s.complete(); };
      tick();
    });
  }
  onWide(data) { seen.push(data); }
  seen() { return seen.splice(0, seen.length); }
}
const decorate = (d, m) => d(C.prototype, m, Object.getOwnPropertyDescriptor(C.prototype, m));
decorate(MessagePattern('with-undefined'), 'withUndefined');
decorate(MessagePattern('voids'), 'voids');
decorate(EventPattern(keys21), 'onWide');
decorate(MessagePattern('seen'), 'seen');
Controller()(C);
class M {}
Module({ controllers: [C] })(M);
await serveTcp(nest, M, { host: args.host, port });
`

// startGapsServer writes the script and starts it with NestJS major.
func startGapsServer(t *testing.T, node, major string) *nestProc {
	t.Helper()
	dir, err := filepath.Abs("nestjs")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "gaps-server.mjs")
	src := strings.ReplaceAll(gapsServerScript, "__DIR__", "file://"+filepath.ToSlash(dir))
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startNestTCP(t, node, major, script)
	return p
}

// TestGoClientStreamUndefinedValues: every frame of a NestJS stream that
// carries neither err nor isDisposed is a value for a NestJS ClientProxy,
// also when it has no "response" member (the Observable emitted
// undefined). Measured with a NestJS 12.1.1 ClientProxy against the NestJS
// 10, 11 and 12 servers: send('with-undefined').pipe(toArray()) gives
// [1, undefined, 3], and send('voids') three values. Our client yields
// null for undefined (it dropped those frames: 1, 3, and nothing at all).
func TestGoClientStreamUndefinedValues(t *testing.T) {
	node := requireNode(t)
	srv := startGapsServer(t, node, "12")
	c := newNestClient(t, srv.addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	collect := func(pattern string) []string {
		var got []string
		for v, err := range c.Stream(ctx, pattern, map[string]any{}) {
			if err != nil {
				t.Fatalf("%s: %v", pattern, err)
			}
			got = append(got, string(v))
		}
		return got
	}
	// undefined has no Go value: JSON null (or an empty raw value) stands for it.
	isUndefined := func(s string) bool { return s == "" || s == "null" }

	got := collect("with-undefined")
	if len(got) != 3 || got[0] != "1" || !isUndefined(got[1]) || got[2] != "3" {
		t.Errorf("with-undefined yielded %q, want 3 values: 1, null (undefined), 3, as a NestJS ClientProxy gets", got)
	}
	got = collect("voids")
	if len(got) != 3 {
		t.Errorf("voids yielded %d values %q, want 3 (undefined each), as a NestJS ClientProxy gets", len(got), got)
	}
	for _, v := range got {
		if !isUndefined(v) {
			t.Errorf("voids yielded %q, want null (undefined)", v)
		}
	}
}

// TestGoClientEmitWidePatternToNest10: emit() of a 21-key object pattern.
// A NestJS 10.4.22 ClientProxy's emit reaches a NestJS 10 server's
// @EventPattern for that object (measured: its normalized route has all 21
// keys). Our Emit once put NestJS 12's route key on the wire,
// "[TOO_MANY_KEYS]", which a NestJS 10 server (no key limit) cannot parse
// nor match: the event was lost without a trace. It sends the pattern now.
func TestGoClientEmitWidePatternToNest10(t *testing.T) {
	node := requireNode(t)
	srv := startGapsServer(t, node, "10")
	c := newNestClient(t, srv.addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	wide := map[string]any{}
	for i := 0; i < 21; i++ {
		wide["k"+strconv.Itoa(i)] = i
	}
	if err := c.Emit(ctx, wide, map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	var got []map[string]int
	for deadline := time.Now().Add(5 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
		var batch []map[string]int
		if err := c.Send(ctx, "seen", map[string]any{}, &batch); err != nil {
			t.Fatal(err)
		}
		got = append(got, batch...)
		if len(got) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if want := []map[string]int{{"n": 1}}; !reflect.DeepEqual(got, want) {
		b, _ := json.Marshal(got)
		t.Errorf("NestJS 10's @EventPattern(<21 keys>) received %s, want [{\"n\":1}] (a NestJS 10 ClientProxy's emit reaches it)", b)
	}
}
