package rpc

import (
	"encoding/json"
	"testing"

	"github.com/msgpattern/msgpattern/pattern"
)

// TestNest10Keys: the key NestJS 10 writes for an object pattern is its
// route key with every JSON string unescaped; two routes that would share
// one get neither (not one chosen by map order), and a real route key
// wins over another route's NestJS 10 key.
func TestNest10Keys(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{`{"cmd":"say \"hi\""}`, `{"cmd":"say "hi""}`},
		{`{"cmd":"C:\\dir"}`, `{"cmd":"C:\dir"}`},
		// Route keys write control characters raw: only '"' and '\' are escaped.
		{"{\"a\":\"x\ny\\\"\",\"b\":\"\x01\"}", "{\"a\":\"x\ny\"\",\"b\":\"\x01\"}"},
		{`{"a":{"b":["\"",1]}}`, `{"a":{"b":[""",1]}}`},
	} {
		if got, ok := nest10Key(tc.key); !ok || got != tc.want {
			t.Errorf("nest10Key(%s) = %q, %v; want %q", tc.key, got, ok, tc.want)
		}
	}
	for _, key := range []string{`{"cmd":"plain"}`, `"a\"b"`, `sum`} {
		if got, ok := nest10Key(key); ok {
			t.Errorf("nest10Key(%s) = %q; want none (nothing escaped, or not an object)", key, got)
		}
	}

	r := NewRouter()
	ok := Func(func(json.RawMessage) (any, error) { return "ok", nil })
	quoted := map[string]any{"cmd": `say "hi"`}
	r.Handle(quoted, ok)
	// These two both read {"a":"1","b":"2\"} unescaped.
	r.Handle(map[string]any{"a": `1","b":"2\`}, ok)
	r.Handle(map[string]any{"a": "1", "b": `2\`}, ok)
	// Its unescaped key is the real key of the next one.
	r.Handle(map[string]any{"x": `1","y":"2`}, ok)
	real := map[string]any{"x": "1", "y": "2"}
	r.Handle(real, ok)

	if rt := r.lookup([]byte(`{"cmd":"say "hi""}`)); rt == nil || rt.key != `{"cmd":"say \"hi\""}` {
		t.Errorf("the NestJS 10 key of %v found %v", quoted, rt)
	}
	if rt := r.lookup([]byte(`{"a":"1","b":"2\"}`)); rt != nil {
		t.Errorf("a NestJS 10 key two routes share found %s", rt.key)
	}
	if rt := r.lookup([]byte(`{"x":"1","y":"2"}`)); rt == nil || rt.key != `{"x":"1","y":"2"}` {
		t.Errorf("a real route key found %v, want its own route", rt)
	}
}

// TestNest10KeyOfRawControlCharacters: route keys write control
// characters raw and escape only '"' and '\' (package pattern), so NestJS
// 10's key for such a pattern is the route key with just those two
// unescaped. A pattern holding a tab (or a newline) and a quote must be
// found by the text NestJS 10's emit sends, as one holding only a quote is.
func TestNest10KeyOfRawControlCharacters(t *testing.T) {
	r := NewRouter()
	ok := Func(func(json.RawMessage) (any, error) { return "ok", nil })
	for _, v := range []string{"say \"hi\"\tnow", "line1\nC:\\dir"} {
		r.HandleEvent(map[string]any{"cmd": v}, ok)
		// NestJS 10.4: transformPatternToRoute writes `"${value}"`, then
		// JSON.stringify({pattern: route, data}) puts it on the wire.
		nest10 := `{"cmd":"` + v + `"}`
		wireJSON, _ := json.Marshal(nest10)
		key, routed := pattern.Route(wireJSON, nil)
		if !routed {
			t.Fatalf("pattern.Route(%s) routes nothing", wireJSON)
		}
		if rt := r.lookup(key); rt == nil {
			t.Errorf("NestJS 10's event to {cmd: %q} (pattern %s) found no route", v, wireJSON)
		}
	}
}

// TestNest10KeyDoesNotTakeAnotherPattern: a pattern whose string holds
// `","` has, unescaped, the route key of a different, well-formed pattern.
// A NestJS 11/12 client's request to that other pattern, which no handler
// serves, must get "no handler" (as from NestJS 12), not run the first
// pattern's handler.
func TestNest10KeyDoesNotTakeAnotherPattern(t *testing.T) {
	r := NewRouter()
	r.Handle(map[string]any{"role": `admin","user":"alice`}, Func(func(json.RawMessage) (any, error) { return "wrong handler", nil }))
	// What a NestJS 12 client sends for send({role: 'admin', user: 'alice'}).
	key, ok := pattern.Route([]byte(`{"role":"admin","user":"alice"}`), nil)
	if !ok {
		t.Fatal("no route")
	}
	if rt := r.lookup(key); rt != nil {
		t.Fatalf("the request to %s ran the handler of %s", key, rt.key)
	}
}
