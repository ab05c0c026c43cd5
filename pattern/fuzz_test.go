package pattern_test

import (
	"bytes"
	"encoding/json"
	"testing"

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
