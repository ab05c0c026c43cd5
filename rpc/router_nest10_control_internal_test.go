package rpc

import (
	"encoding/json"
	"testing"

	"github.com/msgpattern/msgpattern/pattern"
)

// TestNest10KeyDoesNotTakeAnotherPatternWithControlChar: as
// TestNest10KeyDoesNotTakeAnotherPattern, when the other pattern holds a
// control character. Route keys write control characters raw, so that
// pattern's route key is not JSON, and json.Valid did not see that the
// first pattern's NestJS 10 key is another pattern's real route key: a
// NestJS 11/12 request to {role: 'admin', user: 'al\tice'}, which no
// handler serves, ran the handler of {role: 'admin","user":"al\tice'}.
func TestNest10KeyDoesNotTakeAnotherPatternWithControlChar(t *testing.T) {
	r := NewRouter()
	r.Handle(map[string]any{"role": "admin\",\"user\":\"al\tice"}, Func(func(json.RawMessage) (any, error) { return "wrong handler", nil }))
	// What a NestJS 12 client sends for send({role: 'admin', user: 'al\tice'}).
	key, ok := pattern.Route([]byte(`{"role":"admin","user":"al\tice"}`), nil)
	if !ok {
		t.Fatal("no route")
	}
	if rt := r.lookup(key); rt != nil {
		t.Fatalf("the request to %q ran the handler of %q", key, rt.key)
	}
	// NestJS 10's emit of the registered pattern still finds it when its
	// unescaped key is no other pattern's: here one with a quote and a tab
	// that does not read as JSON.
	r.HandleEvent(map[string]any{"cmd": "say \"hi\"\tnow"}, Func(func(json.RawMessage) (any, error) { return nil, nil }))
	wireJSON, _ := json.Marshal("{\"cmd\":\"say \"hi\"\tnow\"}")
	k, _ := pattern.Route(wireJSON, nil)
	if rt := r.lookup(k); rt == nil {
		t.Errorf("NestJS 10's key %q found no route", k)
	}
}

// TestNest10KeyDoesNotTakeAnotherPatternWithMarker: the same when the other
// pattern's route key holds [TOO_MANY_KEYS] (an object of more than 20
// keys), written unquoted, so not JSON either.
func TestNest10KeyDoesNotTakeAnotherPatternWithMarker(t *testing.T) {
	r := NewRouter()
	r.Handle(map[string]any{"role": `admin","user":[TOO_MANY_KEYS],"x":"`}, Func(func(json.RawMessage) (any, error) { return "wrong handler", nil }))
	wide := map[string]int{}
	for _, k := range "abcdefghijklmnopqrstu" {
		wide[string(k)] = 1
	}
	raw, _ := json.Marshal(map[string]any{"role": "admin", "user": wide, "x": ""})
	key, ok := pattern.Route(raw, nil)
	if !ok {
		t.Fatal("no route")
	}
	if rt := r.lookup(key); rt != nil {
		t.Fatalf("the request to %q ran the handler of %q", key, rt.key)
	}
}
