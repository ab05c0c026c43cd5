package wire_test

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/msgpattern/msgpattern/wire"
)

// appendJSONTests give what JSON.stringify prints for the same value.
var appendJSONTests = []struct {
	name string
	v    any
	want string
}{
	{"nil", nil, `null`},
	{"true", true, `true`},
	{"false", false, `false`},
	{"int", 42, `42`},
	{"negative int", -7, `-7`},
	{"int64 min", int64(math.MinInt64), `-9223372036854775808`},
	{"int32", int32(-5), `-5`},
	{"uint64 max", uint64(math.MaxUint64), `18446744073709551615`},
	{"uint8 via encoding/json", uint8(200), `200`},

	// Number::toString: fixed notation from 1e-6 up to 1e21, else exponent
	// with a sign and no leading zeros.
	{"0.1", 0.1, `0.1`},
	{"100", 100.0, `100`},
	{"zero", 0.0, `0`},
	{"negative zero", math.Copysign(0, -1), `0`},
	{"123.456", 123.456, `123.456`},
	{"2^53", 9007199254740992.0, `9007199254740992`},
	{"1e20", 1e20, `100000000000000000000`},
	{"1e21", 1e21, `1e+21`},
	{"-1e21", -1e21, `-1e+21`},
	{"1.5e300", 1.5e300, `1.5e+300`},
	{"max float", math.MaxFloat64, `1.7976931348623157e+308`},
	{"1e-6", 1e-6, `0.000001`},
	{"1.234e-6", 1.234e-6, `0.000001234`},
	{"1e-7", 1e-7, `1e-7`},
	{"-1.5e-7", -1.5e-7, `-1.5e-7`},
	{"1e-10", 1e-10, `1e-10`},
	{"smallest denormal", 5e-324, `5e-324`},
	{"float32 via encoding/json", float32(0.1), `0.1`},

	// Strings: only '"', '\\' and control characters are escaped.
	{"html characters raw", "<>&", `"<>&"`},
	{"line separators raw", "a\u2028b\u2029c", "\"a\u2028b\u2029c\""},
	{"control char lowercase hex", "\x1f", `"\u001f"`},
	{"NUL", "\x00", `"\u0000"`},
	{"short escapes", "\b\f\n\r\t", `"\b\f\n\r\t"`},
	{"quote and backslash", `"\`, `"\"\\"`},
	{"slash and DEL raw", "/\x7f", "\"/\x7f\""},
	{"unicode raw", "héllo 😀", `"héllo 😀"`},

	// Pre-encoded JSON is checked and compacted, as JSON.stringify prints it.
	{"raw object", json.RawMessage(`{"a":[1,2]}`), `{"a":[1,2]}`},
	{"raw empty", json.RawMessage(``), `null`},
	{"raw nil", json.RawMessage(nil), `null`},
	{"raw with invalid UTF-8", json.RawMessage("\"a\xffb\""), "\"a\uFFFDb\""},
	{"raw pretty-printed", json.RawMessage("{\n  \"a\": [\n    1,\r\n\t2\n  ]\n}\n"), `{"a":[1,2]}`},
	{"raw blanks around a scalar", json.RawMessage(" \t3\n"), `3`},
	{"raw blanks in strings kept", json.RawMessage(`{ "a b" : " x\" y\\" , "c":"\\\" " }`), `{"a b":" x\" y\\","c":"\\\" "}`},
	{"raw pretty with invalid UTF-8", json.RawMessage("[ \"a\xff b\" ,\n 1 ]"), "[\"a\uFFFD b\",1]"},

	// Everything else goes through encoding/json, fixed up to match.
	{"struct with tags", struct {
		A int    `json:"a"`
		B string `json:"b,omitempty"`
		C string `json:"c"`
	}{1, "", "<é>\u2028&"}, "{\"a\":1,\"c\":\"<é>\u2028&\"}"},
	{"map", map[string]any{"z": 1, "a": "&"}, `{"a":"&","z":1}`},
	{"slice", []int{1, 2}, `[1,2]`},
	{"nested raw", map[string]json.RawMessage{"k": json.RawMessage(` [1, 2] `)}, `{"k":[1,2]}`},
	{"text that looks like an escape", map[string]string{"k": `\u2028`}, `{"k":"\\u2028"}`},
	{"escaped backslash then separator", map[string]string{"k": "\\\u2028"}, "{\"k\":\"\\\\\u2028\"}"},
	{"look-alike escape then separator", map[string]string{"k": "\\u202\u2028"}, "{\"k\":\"\\\\u202\u2028\"}"},
	{"look-alike escape then look-alike", map[string]string{"k": `\u202\u2028`}, `{"k":"\\u202\\u2028"}`},
	{"look-alike escape then quote", map[string]string{"k": `\u202"x`}, `{"k":"\\u202\"x"}`},
	{"separators around escapes", map[string]string{"k": "\u2029\\\"\u2028\\"}, "{\"k\":\"\u2029\\\\\\\"\u2028\\\\\"}"},
}

func TestAppendJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range appendJSONTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := wire.AppendJSON([]byte("kept"), tt.v)
			if err != nil {
				t.Fatalf("AppendJSON(%#v): %v", tt.v, err)
			}
			if string(got) != "kept"+tt.want {
				t.Errorf("AppendJSON(%#v)\n got  %q\n want %q", tt.v, got[min(4, len(got)):], tt.want)
			}
			if !json.Valid(got[4:]) {
				t.Errorf("AppendJSON(%#v) = %q: not valid JSON", tt.v, got[4:])
			}
		})
	}
}

func TestAppendJSONErrors(t *testing.T) {
	t.Parallel()
	for name, v := range map[string]any{
		"NaN":                math.NaN(),
		"-Inf":               math.Inf(-1),
		"raw truncated":      json.RawMessage(`{"a":`),
		"raw trailing":       json.RawMessage(`{} {}`),
		"raw bare word":      json.RawMessage(`abc`),
		"raw too deep":       json.RawMessage(strings.Repeat("[", 10001) + strings.Repeat("]", 10001)), // encoding/json's bound
		"func":               func() {},
		"map with float key": map[float64]int{1: 1},
	} {
		got, err := wire.AppendJSON([]byte("kept"), v)
		if err == nil {
			t.Errorf("%s: AppendJSON = %q, nil; want an error", name, got)
		}
		if string(got) != "kept" {
			t.Errorf("%s: after the error dst = %q, want \"kept\"", name, got)
		}
	}
}

// stringCorpus holds every control character and a range of non-ASCII text.
var stringCorpus = func() []string {
	c := []string{
		"", "plain", `"quoted"`, `back\slash`, "/", "<script>&amp;</script>", "\x7f",
		"héllo 😀", "日本語", "\u2028\u2029", "\uFFFD", "\U0010FFFF", "\u00e9\u0301",
		"mixed \x00 \x1f \" \\ é 😀 \u2028 end",
	}
	var all strings.Builder
	for r := rune(0); r < 0x20; r++ {
		c = append(c, string(r), "a"+string(r)+"b")
		all.WriteRune(r)
	}
	return append(c, all.String())
}()

// TestAppendStringRoundTrip decodes what AppendString wrote with
// encoding/json and expects the original string back.
func TestAppendStringRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range stringCorpus {
		out := wire.AppendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Errorf("AppendString(%q) = %q: json.Unmarshal: %v", s, out, err)
			continue
		}
		if back != s {
			t.Errorf("AppendString(%q) = %q decodes to %q", s, out, back)
		}
		// The same string through encoding/json (the struct path of
		// AppendJSON) must print identically.
		viaMarshal, err := wire.AppendJSON(nil, []string{s})
		if err != nil {
			t.Fatal(err)
		}
		if want := "[" + string(out) + "]"; string(viaMarshal) != want {
			t.Errorf("string %q: AppendJSON([]string) = %q, AppendString = %q", s, viaMarshal, out)
		}
	}
}

func TestAppendStringInvalidUTF8(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"\xff", "a\x80b", "\xE2\x82", "\xED\xA0\x80", "\xF0\x9F\x98", "é\xC3"} {
		out := wire.AppendString(nil, s)
		if !utf8.Valid(out) || !json.Valid(out) {
			t.Errorf("AppendString(%q) = %q: want valid UTF-8 JSON", s, out)
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil || !strings.ContainsRune(back, utf8.RuneError) {
			t.Errorf("AppendString(%q) = %q decodes to %q, %v; want U+FFFD in place of the invalid bytes", s, out, back, err)
		}
	}
}

// TestAppendJSONIntegralFloats: integral floats take a shortcut; it must
// print what the general path (ECMAScript's Number::toString) prints.
func TestAppendJSONIntegralFloats(t *testing.T) {
	for _, f := range []float64{1, -1, 3, 42, 1e6, -123456789, 999999999999999, 1e15 - 1, 1e15, 1e15 + 2,
		1 << 53, 1e20, 1e21, 0.5, math.Copysign(0, -1), 2.5e-7} {
		got, err := wire.AppendJSON(nil, f)
		if err != nil {
			t.Fatal(err)
		}
		want := strconv.FormatFloat(f, 'f', -1, 64)
		if math.Abs(f) >= 1e21 || (f != 0 && math.Abs(f) < 1e-6) {
			continue // exponent form: covered by TestAppendJSON
		}
		if f == 0 {
			want = "0"
		}
		if string(got) != want {
			t.Errorf("AppendJSON(%v) = %s, want %s", f, got, want)
		}
	}
}
