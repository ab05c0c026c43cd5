package rpc

import (
	"encoding/json"
	"testing"
)

// TestNest10Keys: the key NestJS 10 writes for an object pattern is its
// route key with every JSON string unescaped; two routes that would share
// one get neither (not one chosen by map order), and a real route key
// wins over another route's NestJS 10 key.
func TestNest10Keys(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{`{"cmd":"say \"hi\""}`, `{"cmd":"say "hi""}`},
		{`{"cmd":"C:\\dir"}`, `{"cmd":"C:\dir"}`},
		{`{"a":"x\ny","b":"\u0001"}`, "{\"a\":\"x\ny\",\"b\":\"\x01\"}"},
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
