package pattern_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/msgpattern/msgpattern/pattern"
)

type cmdPattern struct {
	Role string `json:"role"`
	Cmd  string `json:"cmd"`
}

type named string

type textKey struct{}

func (textKey) MarshalText() ([]byte, error) { return []byte("from-text"), nil }

var ofTests = []struct {
	name string
	p    any
	want string // "" means an error
}{
	{"string", "sum", "sum"},
	{"string verbatim", `{"b":1,"a":2}`, `{"b":1,"a":2}`},
	{"string not parsed", "4.50", "4.50"},
	{"string null verbatim", "null", "null"},
	{"named string", named("x.y"), "x.y"},
	{"int", 42, "42"},
	{"negative int8", int8(-7), "-7"},
	{"uint64 max", uint64(math.MaxUint64), "18446744073709552000"},
	{"int64 beyond 2^53", int64(1<<53 + 1), "9007199254740992"},
	{"float", 4.5, "4.5"},
	{"negative zero", math.Copysign(0, -1), "0"},
	{"float exponent", 1e21, "1e+21"},
	{"float32", float32(0.1), "0.1"},
	{"json.Number", json.Number("4.50"), "4.5"},
	{"raw object", json.RawMessage(` {"role":"math", "cmd":"sum"} `), `{"cmd":"sum","role":"math"}`},
	{"raw string", json.RawMessage(`"{\"a\":1}"`), `{"a":1}`},
	{"raw number", json.RawMessage(`1E3`), "1000"},
	{"raw array", json.RawMessage(`["a"]`), `{"0":"a"}`},
	{"struct", cmdPattern{Role: "math", Cmd: "sum"}, `{"cmd":"sum","role":"math"}`},
	{"pointer to struct", &cmdPattern{Cmd: "x"}, `{"cmd":"x","role":""}`},
	{"map", map[string]any{"b": []int{1}, "a": nil, "c": true}, `{"a":null,"b":{"0":1},"c":true}`},
	{"map html escapes", map[string]string{"<&>": "<&>"}, `{"<&>":"<&>"}`},
	{"text marshaler", textKey{}, "from-text"},
	{"too many keys", map[string]int{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8, "i": 9, "j": 10, "k": 11, "l": 12, "m": 13, "n": 14, "o": 15, "p": 16, "q": 17, "r": 18, "s": 19, "t": 20, "u": 21}, "[TOO_MANY_KEYS]"},
	{"nil", nil, ""},
	{"empty string", "", ""},
	{"bool", true, ""},
	{"struct with bool", struct{ B bool }{}, `{"B":false}`},
	{"NaN", math.NaN(), ""},
	{"Inf", math.Inf(-1), ""},
	{"float32 Inf", float32(math.Inf(1)), ""},
	{"raw null", json.RawMessage(`null`), ""},
	{"raw true", json.RawMessage(`true`), ""},
	{"raw empty string", json.RawMessage(`""`), ""},
	{"raw invalid", json.RawMessage(`{`), ""},
	{"raw overflow", json.RawMessage(`{"a":1e400}`), ""},
	{"bad json.Number", json.Number("0x1"), ""},
	{"nil pointer", (*cmdPattern)(nil), ""},
	{"channel", make(chan int), ""},
	{"complex", complex(1, 2), ""},
}

func TestOf(t *testing.T) {
	t.Parallel()
	for _, tt := range ofTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := pattern.Of(tt.p)
			if tt.want == "" {
				if err == nil || !errors.Is(err, pattern.ErrInvalid) {
					t.Errorf("Of(%#v) = %q, %v; want an error wrapping ErrInvalid", tt.p, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Of(%#v) = %q, %v; want %q, nil", tt.p, got, err, tt.want)
			}
		})
	}
}

// TestOfMatchesRoute checks that what a Go program registers is what a
// server computes when a client sends the same value, marshaled.
func TestOfMatchesRoute(t *testing.T) {
	t.Parallel()
	for _, p := range []any{
		"sum", 42, 4.5, float32(0.1), cmdPattern{"math", "sum"},
		map[string]any{"cmd": "get", "opts": map[string]any{"z": 1, "a": []string{"x", "y"}}},
	} {
		raw, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		reg, err := pattern.Of(p)
		if err != nil {
			t.Fatalf("Of(%#v): %v", p, err)
		}
		got, ok := pattern.Route(raw, nil)
		if !ok || string(got) != reg {
			t.Errorf("Route(%s) = %q, %v; Of(%#v) = %q", raw, got, ok, p, reg)
		}
	}
}
