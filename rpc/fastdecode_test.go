package rpc

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestFastDecodeAgreesWithEncodingJSON: where the fast path decodes, it
// must give what encoding/json gives; elsewhere it must decline.
func TestFastDecodeAgreesWithEncodingJSON(t *testing.T) {
	inputs := []string{
		`[1,2]`, ` [ 1 , 2 ] `, `[]`, `[-0]`, `[1.5,2e3,-7]`, `[1,]`, `[,1]`, `[01]`, `[1 2]`, `["1"]`, `[null]`,
		`[123456789012345678901234]`, `[1e400]`, `null`, `1`, `-12`, `1.0`, `1e2`, `01`, `"x"`, `"a\"b"`, `"é😀"`,
		`true`, `false`, `tru`, `""`, `"\u0041"`, `[1,2,3,4,5,6,7,8,9,10]`, `9007199254740993`, `-`, `[-]`,
	}
	targets := []func() any{
		func() any { return new([]float64) }, func() any { return new([]int) },
		func() any { return new(float64) }, func() any { return new(int) },
		func() any { return new(string) }, func() any { return new(bool) },
	}
	for _, in := range inputs {
		for _, newTarget := range targets {
			fast, slow := newTarget(), newTarget()
			ok := fastDecode(fast, []byte(in))
			err := json.Unmarshal([]byte(in), slow)
			if !ok {
				continue // declined: encoding/json decides
			}
			if err != nil {
				t.Errorf("%s into %T: fast path accepted what encoding/json rejects (%v)", in, fast, err)
				continue
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Errorf("%s into %T: fast %v, encoding/json %v", in, fast, reflect.ValueOf(fast).Elem(), reflect.ValueOf(slow).Elem())
			}
		}
	}
}

func FuzzFastDecode(f *testing.F) {
	for _, s := range []string{`[1,2]`, `1.5`, `"x"`, `true`, `[1e3,-2]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, pair := range [][2]any{{new([]float64), new([]float64)}, {new([]int), new([]int)}, {new(float64), new(float64)}, {new(int), new(int)}, {new(string), new(string)}} {
			if !fastDecode(pair[0], []byte(in)) {
				continue
			}
			if err := json.Unmarshal([]byte(in), pair[1]); err != nil {
				t.Fatalf("%q into %T: fast path accepted what encoding/json rejects: %v", in, pair[0], err)
			}
			if !reflect.DeepEqual(pair[0], pair[1]) {
				t.Fatalf("%q into %T: fast %v, encoding/json %v", in, pair[0], pair[0], pair[1])
			}
		}
	})
}
