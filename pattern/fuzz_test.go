package pattern_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"testing"
	"unicode/utf8"

	"github.com/msgpattern/msgpattern/pattern"
)

// FuzzRoute checks that Route never panics, does not depend on the scratch
// buffer, agrees with Of for JSON objects, and routes an object pattern alike
// whatever its key order and whether it arrives as an object or as a JSON
// string.
func FuzzRoute(f *testing.F) {
	for _, tt := range receiveTests {
		if len(tt.raw) < 1000 {
			f.Add([]byte(tt.raw))
		}
	}
	for _, v := range nestV12Vectors {
		f.Add([]byte(v.pattern))
	}
	f.Add([]byte(`{"b":{"y":[1,{"q":"\ud800"}],"x":"\u00e9"},"a":1e400,"10":null,"2":"s"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		route, ok := pattern.Route(raw, nil)
		if !ok && route != nil {
			t.Fatalf("Route(%q) = %q, false; want nil with false", raw, route)
		}
		scratch := make([]byte, 3, 512)
		route2, ok2 := pattern.Route(raw, scratch)
		if ok2 != ok || !bytes.Equal(route2, route) {
			t.Fatalf("Route(%q) = %q, %v without scratch and %q, %v with", raw, route, ok, route2, ok2)
		}

		if ok {
			checkRouteValue(t, raw, route)
		}

		reordered, quoted, forms := pattern.ReorderedForms(raw)
		if !forms {
			return
		}
		if !ok {
			t.Fatalf("Route(%q) failed for a JSON object", raw)
		}
		for _, alt := range [][]byte{reordered, quoted} {
			got, ok := pattern.Route(alt, nil)
			if !ok || !bytes.Equal(got, route) {
				t.Fatalf("Route(%q) = %q\nbut Route(%q) = %q, %v", raw, route, alt, got, ok)
			}
		}
		// A Go program registering the re-serialized value gets the same key.
		if reg, err := pattern.Of(json.RawMessage(reordered)); err != nil || reg != string(route) {
			t.Fatalf("Route(%q) = %q\nbut Of(json.RawMessage(%q)) = %q, %v", raw, route, reordered, reg, err)
		}
	})
}

// loneSurrogate matches the \u escape of a surrogate, which encoding/json
// reads as U+FFFD where JSON.parse keeps it.
var loneSurrogate = regexp.MustCompile(`(?i)\\u[d][89a-f]`)

// checkRouteValue checks the route of an object pattern against
// encoding/json: the route, read back as JSON, holds the pattern's value,
// arrays as objects keyed by index. The checks above only compare Route
// with itself; they cannot see a route that drops, changes or misprints a
// member (a number printed wrong, an escape decoded wrong) consistently.
// Skipped: invalid UTF-8 and lone surrogates (replaced differently by
// encoding/json than by Node), what encoding/json rejects (1e400), and
// routes with Nest's unquoted depth and key markers.
func checkRouteValue(t *testing.T, raw, route []byte) {
	t.Helper()
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' || !utf8.Valid(raw) || loneSurrogate.Match(raw) {
		return
	}
	var want any
	if json.Unmarshal(raw, &want) != nil {
		return
	}
	// A route's strings hold control characters raw; escape them so that
	// encoding/json reads the route (they occur only inside strings).
	var esc []byte
	for _, c := range route {
		if c < 0x20 {
			esc = fmt.Appendf(esc, `\u%04x`, c)
		} else {
			esc = append(esc, c)
		}
	}
	var got any
	if err := json.Unmarshal(esc, &got); err != nil {
		if !bytes.Contains(route, []byte("[MAX_DEPTH_REACHED]")) && !bytes.Contains(route, []byte("[TOO_MANY_KEYS]")) {
			t.Fatalf("Route(%q) = %q: not JSON (%v) and no marker", raw, route, err)
		}
		return
	}
	if want = arraysAsObjects(want); !reflect.DeepEqual(got, want) {
		t.Fatalf("Route(%q) = %q:\n reads as %#v\n encoding/json %#v", raw, route, got, want)
	}
}

// arraysAsObjects turns every array in v into an object keyed by index,
// as a route writes it.
func arraysAsObjects(v any) any {
	switch v := v.(type) {
	case []any:
		m := make(map[string]any, len(v))
		for i, e := range v {
			m[fmt.Sprint(i)] = arraysAsObjects(e)
		}
		return m
	case map[string]any:
		for k, e := range v {
			v[k] = arraysAsObjects(e)
		}
	}
	return v
}
