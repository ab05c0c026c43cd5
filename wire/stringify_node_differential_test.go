package wire_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/wire"
)

type nodeTag struct {
	Name  string  `json:"name"`
	Score float64 `json:"score,omitempty"`
	Skip  string  `json:"-"`
	Ptr   *int    `json:"ptr"`
	List  []int   `json:"list"`
	Map   map[string]int
	Any   any `json:"any"`
}

var pointOne, pointTwo = 0.1, 0.2

type nodeName string

type nodeText struct{ s string }

func (t nodeText) MarshalText() ([]byte, error) { return []byte(t.s), nil }

type nodeMarshaler struct{}

func (nodeMarshaler) MarshalJSON() ([]byte, error) {
	return []byte(` { "b" : [ 1 , "<\u2028>" ] } `), nil
}

// nodeStringifyTests pairs Go values with the JavaScript expression of the
// same value; AppendJSON must print what node's JSON.stringify prints, and
// AppendValueOf the frame a NestJS server writes (length in UTF-16 units).
// A Go string holding invalid UTF-8 is the JS string Node decodes from its
// bytes (Buffer.toString, WHATWG): what a NestJS handler would have had.
var nodeStringifyTests = []struct {
	name string
	v    any
	js   string
}{
	{"html", "<>&", `"<>&"`},
	{"line separators", "\u2028\u2029", `"\u2028\u2029"`},
	{"controls", "\x00\x01\b\t\n\v\f\r\x0e\x1f\x7f\u0080\u009f", `"\x00\x01\b\t\n\v\f\r\x0e\x1f\x7f\x80\x9f"`},
	{"quote backslash slash", `"\/`, `"\"\\/"`},
	{"astral", "😀𝄞", `"😀𝄞"`},
	{"bom and fffe", "\ufeff\ufffe\uffff", `"\ufeff\ufffe\uffff"`},
	{"invalid byte", "a\xffb", `Buffer.from([0x61,0xff,0x62]).toString()`},
	{"truncated 3-byte", "a\xe2\x82b", `Buffer.from([0x61,0xe2,0x82,0x62]).toString()`},
	{"truncated 4-byte at end", "a\xf0\x9f\x98", `Buffer.from([0x61,0xf0,0x9f,0x98]).toString()`},
	{"encoded surrogate", "\xed\xa0\x80", `Buffer.from([0xed,0xa0,0x80]).toString()`},
	{"overlong", "\xc0\xaf", `Buffer.from([0xc0,0xaf]).toString()`},
	{"invalid raw message", json.RawMessage("\"a\xe2\x82b\""), `Buffer.from([0x61,0xe2,0x82,0x62]).toString()`},
	{"invalid in marshaler", []json.RawMessage{json.RawMessage("\"\xe2\x82\"")}, `[Buffer.from([0xe2,0x82]).toString()]`},
	{"lone surrogate raw message", json.RawMessage(`"\ud800"`), `"\ud800"`},
	{"raw message line sep escaped", json.RawMessage(`["\u2028", 1]`), `["\u2028",1]`},

	{"int", 42, `42`},
	{"int8", int8(-8), `-8`},
	{"uint", uint(7), `7`},
	{"uintptr", uintptr(7), `7`},
	{"2^53", int64(1 << 53), `2**53`},
	{"1e21", 1e21, `1e21`},
	{"1e20", 1e20, `1e20`},
	{"1e-7", 1e-7, `1e-7`},
	{"1e-6", 1e-6, `1e-6`},
	{"1.5e-7", 1.5e-7, `1.5e-7`},
	{"123e-20", 123e-20, `123e-20`},
	{"-0", math.Copysign(0, -1), `-0`},
	{"0.1+0.2", pointOne + pointTwo, `0.1+0.2`},
	{"max float", math.MaxFloat64, `Number.MAX_VALUE`},
	{"min float", 5e-324, `Number.MIN_VALUE`},
	{"1e15+0.5", 1e15 + 0.5, `1e15+0.5`},
	{"2^60 float", float64(1 << 60), `2**60`},
	{"-1e300", -1e300, `-1e300`},
	{"float32 integer", float32(16777216), `16777216`},
	{"float32 1e21", float32(1e21), `1e21`},
	{"-0 float32", float32(math.Copysign(0, -1)), `-0`},
	{"json.Number", json.Number("1.5"), `1.5`},

	{"nil", nil, `null`},
	{"nil pointer", (*int)(nil), `null`},
	{"nil slice", []int(nil), `null`},
	{"nil map", map[string]int(nil), `null`},
	{"empty slice", []int{}, `[]`},
	{"empty map", map[string]int{}, `({})`},
	{"bytes", []byte("hi"), `"aGk="`},
	{"struct", nodeTag{Name: "x<y", Map: map[string]int{"b": 1, "a": 2}, Any: []any{1.5, "s", nil, true}},
		`({name:"x<y",ptr:null,list:null,Map:{a:2,b:1},any:[1.5,"s",null,true]})`},
	{"marshaler", nodeMarshaler{}, `({b:[1,"<\u2028>"]})`},
	{"map string keys", map[string]int{"b": 1, "a": 2, "é": 3}, `({a:2,b:1,"é":3})`},
	{"named string type", nodeName("<ok>"), `"<ok>"`},
}

func TestAppendJSONMatchesNodeStringify(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is required in CI:", err)
		}
		t.Skip("node not found")
	}
	var script strings.Builder
	script.WriteString("const out=[];\n")
	for _, tc := range nodeStringifyTests {
		script.WriteString("{const v=(" + tc.js + ");const s=JSON.stringify(v);const p=JSON.stringify({response:v,isDisposed:true,id:1});" +
			"out.push(Buffer.from(s).toString('hex')+' '+Buffer.from(p.length+'#'+p).toString('hex'));}\n")
	}
	script.WriteString("process.stdout.write(out.join('\\n'));\n")
	cmd := exec.Command(node, "-e", script.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(string(out), "\n")
	if len(lines) != len(nodeStringifyTests) {
		t.Fatalf("node printed %d lines, want %d", len(lines), len(nodeStringifyTests))
	}
	for i, tc := range nodeStringifyTests {
		fields := strings.Fields(lines[i])
		want, err1 := hex.DecodeString(fields[0])
		wantFrame, err2 := hex.DecodeString(fields[1])
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		got, err := wire.AppendJSON(nil, tc.v)
		if err != nil {
			t.Errorf("%s: AppendJSON: %v", tc.name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: AppendJSON = %q, JSON.stringify = %q", tc.name, got, want)
		}
		frame, err := wire.AppendValueOf(nil, wire.NestJS, tc.v, []byte("1"), true)
		if err != nil {
			t.Errorf("%s: AppendValueOf: %v", tc.name, err)
			continue
		}
		if !bytes.Equal(frame, wantFrame) {
			t.Errorf("%s: frame = %q, NestJS writes %q", tc.name, frame, wantFrame)
		}
	}
}

// nodeDocumentedDifferences are where AppendJSON writes encoding/json's
// text, not JSON.stringify's, as its doc and docs/PROTOCOL.md say; JSON.parse
// reads both as the same value.
var nodeDocumentedDifferences = []struct {
	name string
	v    any
	want string
}{
	{"-0 nested", []float64{math.Copysign(0, -1)}, `[-0]`},
	{"map integer-like keys", map[string]int{"9": 1, "10": 2}, `{"10":2,"9":1}`},
	{"map int keys", map[int]string{9: "a", 10: "b"}, `{"10":"b","9":"a"}`},
	{"map in struct", struct {
		M map[string]bool `json:"m"`
	}{map[string]bool{"2": true, "10": false, "x": true}}, `{"m":{"10":false,"2":true,"x":true}}`},
	{"invalid in map value", map[string]string{"k": "a\xe2\x82b"}, `{"k":"a\ufffd\ufffdb"}`},
	{"invalid in text marshaler", []nodeText{{"\xff"}}, `["\ufffd"]`},
	{"invalid in named string", nodeName("\xff"), `"\ufffd"`},
}

func TestAppendJSONDocumentedDifferences(t *testing.T) {
	for _, tc := range nodeDocumentedDifferences {
		got, err := wire.AppendJSON(nil, tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: AppendJSON = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// TestAppendStringInvalidUTF8AsNodeDecodes: a string's invalid UTF-8 is
// written as a NestJS peer decodes the bytes, one U+FFFD per maximal
// invalid subpart (WHATWG), as a json.RawMessage holding the same bytes is
// (SanitizeUTF8). It was one U+FFFD per byte: "a\xe2\x82b" went out as
// "a\uFFFD\uFFFDb" as a string and "a\uFFFDb" as a RawMessage.
func TestAppendStringInvalidUTF8AsNodeDecodes(t *testing.T) {
	for _, s := range []string{"a\xe2\x82b", "a\xf0\x9f\x98", "\xe2\x82\xe2\x82", "\xff", "\xed\xa0\x80", "ok"} {
		want := "\"" + string(wire.SanitizeUTF8(nil, []byte(s))) + "\""
		if got := string(wire.AppendString(nil, s)); got != want {
			t.Errorf("AppendString(%q) = %q, want %q", s, got, want)
		}
		raw, err := wire.AppendJSON(nil, json.RawMessage("\""+s+"\""))
		if err != nil || string(raw) != want {
			t.Errorf("AppendJSON(RawMessage %q) = %q, %v; want %q", s, raw, err, want)
		}
	}
}
