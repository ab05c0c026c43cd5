package wire_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/msgpattern/msgpattern/wire"
)

type celsiusNZ float64

// AppendJSON's doc: "-0 inside a struct, slice or map is written -0
// (JSON.stringify writes 0; a top-level -0 is written 0)". node:
// JSON.stringify(-0) === "0".
func TestAppendJSONTopLevelNegativeZero(t *testing.T) {
	negZero := math.Copysign(0, -1)
	for _, v := range []any{negZero, float32(negZero), celsiusNZ(negZero)} {
		got, err := wire.AppendJSON(nil, v)
		if err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		if string(got) != "0" {
			t.Errorf("AppendJSON(%T(-0)) = %s, want 0 (JSON.stringify(-0))", v, got)
		}
	}
}

// A json.RawMessage that is -0, however spelt, is a top-level -0 too: a
// handler echoing its data ({"data":-0}) answers 0, as a NestJS handler
// does (JSON.stringify(JSON.parse("-0.0e5")) === "0"). Inside an array or
// object it stays as sent, as a nested -0 does.
func TestAppendJSONRawNegativeZero(t *testing.T) {
	for raw, want := range map[string]string{
		`-0`: `0`, `-0.0`: `0`, `-0e5`: `0`, `-0.00E-3`: `0`, ` -0 `: `0`, `-1e-400`: `0`,
		`0`: `0`, `-0.5`: `-0.5`, `-1e-3`: `-1e-3`, `-10`: `-10`, `-0.01`: `-0.01`,
		`[-0]`: `[-0]`, `{"a":-0}`: `{"a":-0}`, `"-0"`: `"-0"`,
	} {
		got, err := wire.AppendJSON([]byte("kept"), json.RawMessage(raw))
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if string(got) != "kept"+want {
			t.Errorf("AppendJSON(RawMessage(%q)) = %q, want %q", raw, got[4:], want)
		}
	}
}
