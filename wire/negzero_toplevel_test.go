package wire_test

import (
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
