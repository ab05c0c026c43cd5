package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/wire"
)

// pk builds the Packet ParseRequest should return; "" means absent (nil).
func pk(pattern, data, id, metadata string) wire.Packet {
	b := func(s string) []byte {
		if s == "" {
			return nil
		}
		return []byte(s)
	}
	return wire.Packet{Pattern: b(pattern), Data: b(data), ID: b(id), Metadata: b(metadata)}
}

func showPacket(p wire.Packet) string {
	show := func(b []byte) string {
		if b == nil {
			return "<absent>"
		}
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("{pattern %s, data %s, id %s, metadata %s}", show(p.Pattern), show(p.Data), show(p.ID), show(p.Metadata))
}

func samePacket(a, b wire.Packet) bool {
	same := func(x, y []byte) bool { return (x == nil) == (y == nil) && bytes.Equal(x, y) }
	return same(a.Pattern, b.Pattern) && same(a.Data, b.Data) && same(a.ID, b.ID) && same(a.Metadata, b.Metadata)
}

var parseTests = []struct {
	name string
	body string
	want wire.Packet
	err  error
}{
	// Bodies from the captures.
	{name: "sum", body: sumBody, want: pk(`"sum"`, `[1,2]`, `"id-sum"`, "")},
	{name: "object pattern", body: `{"pattern":{"cmd":"sum"},"data":[1,2],"id":"id-objpat"}`, want: pk(`{"cmd":"sum"}`, `[1,2]`, `"id-objpat"`, "")},
	{name: "pattern as escaped JSON string", body: `{"pattern":"{\"cmd\":\"sum\"}","data":[1,2],"id":"id-strpat"}`, want: pk(`"{\"cmd\":\"sum\"}"`, `[1,2]`, `"id-strpat"`, "")},
	{name: "nested object pattern", body: `{"pattern":{"opts":{"a":"x","z":1},"cmd":"nested"},"data":1,"id":"id-nest"}`, want: pk(`{"opts":{"a":"x","z":1},"cmd":"nested"}`, `1`, `"id-nest"`, "")},
	{name: "numeric pattern", body: `{"pattern":42,"data":1,"id":"id-n1"}`, want: pk(`42`, `1`, `"id-n1"`, "")},
	{name: "unicode", body: uniBody, want: pk(`"echo"`, `"héllo 😀"`, `"id-uni"`, "")},
	{name: "metadata (v12)", body: `{"pattern":"sum","data":[1,2],"metadata":{"traceparent":"00-abc-def-01"},"id":"a920cc750369a8323f19e"}`,
		want: pk(`"sum"`, `[1,2]`, `"a920cc750369a8323f19e"`, `{"traceparent":"00-abc-def-01"}`)},
	{name: "event with metadata", body: `{"pattern":"{\"cmd\":\"evt\"}","data":1,"metadata":{"traceparent":"00-abc-def-01"}}`,
		want: pk(`"{\"cmd\":\"evt\"}"`, `1`, "", `{"traceparent":"00-abc-def-01"}`)},

	// id: absent (event), null, number, string, anything.
	{name: "event: no id", body: `{"pattern":"evt","data":{"a":1}}`, want: pk(`"evt"`, `{"a":1}`, "", "")},
	{name: "id null", body: `{"pattern":"sum","data":[1,1],"id":null}`, want: pk(`"sum"`, `[1,1]`, `null`, "")},
	{name: "id number", body: `{"pattern":"sum","data":[3,4],"id":7}`, want: pk(`"sum"`, `[3,4]`, `7`, "")},
	{name: "id float", body: `{"id":-1.5e3}`, want: pk("", "", `-1.5e3`, "")},
	{name: "id object", body: `{"id":{"k":[true,false]}}`, want: pk("", "", `{"k":[true,false]}`, "")},
	{name: "id empty string", body: `{"id":""}`, want: pk("", "", `""`, "")},

	// Key order, blanks, other keys.
	{name: "id first", body: `{"id":"x","data":1,"pattern":"p"}`, want: pk(`"p"`, `1`, `"x"`, "")},
	{name: "blanks everywhere", body: " \t\r\n{ \"pattern\" : \"sum\" ,\n\"data\" :\t[ 1 , 2 ] , \"id\" : \"a\" }\r\n ",
		want: pk(`"sum"`, `[ 1 , 2 ]`, `"a"`, "")},
	{name: "other keys ignored", body: `{"x":{"y":[1,2,{"z":null}]},"pattern":"a","response":1,"isDisposed":true}`, want: pk(`"a"`, "", "", "")},
	{name: "keys are case-sensitive", body: `{"Pattern":1,"ID":2,"Data":3}`, want: pk("", "", "", "")},
	{name: "empty object", body: `{}`, want: pk("", "", "", "")},
	{name: "empty object with blanks", body: " { \n } ", want: pk("", "", "", "")},
	{name: "empty containers as values", body: `{"pattern":{},"data":[],"id":[ ]}`, want: pk(`{}`, `[]`, `[ ]`, "")},

	// Duplicate keys: the last wins, as in JSON.parse.
	{name: "duplicate pattern", body: `{"pattern":"a","data":1,"pattern":"b"}`, want: pk(`"b"`, `1`, "", "")},
	{name: "duplicate id, null last", body: `{"id":1,"id":null}`, want: pk("", "", `null`, "")},
	{name: "duplicate via escape", body: `{"pattern":"a","p\u0061ttern":"b"}`, want: pk(`"b"`, "", "", "")},

	// Escaped keys are the plain names.
	{name: "escaped keys", body: `{"p\u0061ttern":"x","\u0064ata":1,"\u0069\u0064":2,"m\u0065tadata":{}}`, want: pk(`"x"`, `1`, `2`, `{}`)},
	{name: "escaped slash is not the key", body: `{"pattern\/":1}`, want: pk("", "", "", "")},
	{name: "key with NUL escape", body: `{"pattern\u0000":1}`, want: pk("", "", "", "")},
	{name: "escaped key with surrogate pair", body: `{"\ud83d\ude00":1,"id":2}`, want: pk("", "", `2`, "")},

	// Valid JSON that is not an object.
	{name: "number (Nest codec test)", body: `12.34`, err: wire.ErrNotObject},
	{name: "true (Nest codec test)", body: `true`, err: wire.ErrNotObject},
	{name: "array (Nest codec test)", body: `["yes",9]`, err: wire.ErrNotObject},
	{name: "string (Nest codec test)", body: `"Hello there"`, err: wire.ErrNotObject},
	{name: "null (capture)", body: `null`, err: wire.ErrNotObject},
	{name: "number with blanks", body: " 5 ", err: wire.ErrNotObject},

	// Invalid JSON.
	{name: "empty", body: ``, err: wire.ErrNotEnded},
	{name: "blanks only", body: " \n", err: wire.ErrNotEnded},
	{name: "bare word (capture)", body: `{abc}`, err: wire.ErrSyntax},
	{name: "unclosed object", body: `{"a":1`, err: wire.ErrNotEnded},
	{name: "unclosed after comma", body: `{"a":1,`, err: wire.ErrNotEnded},
	{name: "key without value", body: `{"a"}`, err: wire.ErrSyntax},
	{name: "colon without value", body: `{"a":}`, err: wire.ErrSyntax},
	{name: "trailing comma", body: `{"a":1,}`, err: wire.ErrSyntax},
	{name: "lone comma", body: `{,}`, err: wire.ErrSyntax},
	{name: "single-quoted key", body: `{'a':1}`, err: wire.ErrSyntax},
	{name: "control char in string", body: "{\"a\":\"\x01\"}", err: wire.ErrSyntax},
	{name: "bad escape", body: `{"a":"\q"}`, err: wire.ErrSyntax},
	{name: "bad unicode escape", body: `{"a":"\u12G4"}`, err: wire.ErrSyntax},
	{name: "NaN", body: `{"a":NaN}`, err: wire.ErrSyntax},
	{name: "trailing comma in array", body: `{"a":[1,]}`, err: wire.ErrSyntax},
	{name: "missing comma in array", body: `{"a":[1 2]}`, err: wire.ErrSyntax},
	{name: "key only in nested object", body: `{"a":{"b"}}`, err: wire.ErrSyntax},
	{name: "mismatched closer", body: `{"a":[1}}`, err: wire.ErrSyntax},
	{name: "unterminated string", body: `{"a":"abc}`, err: wire.ErrNotEnded},

	// Trailing garbage.
	{name: "garbage after object", body: `{"a":1}x`, err: wire.ErrSyntax},
	{name: "two objects", body: `{"a":1}{}`, err: wire.ErrSyntax},
	{name: "comma after object", body: `{"a":1} ,`, err: wire.ErrSyntax},
	{name: "two numbers", body: `12 3`, err: wire.ErrSyntax},
	{name: "NUL after object", body: "{}\x00", err: wire.ErrSyntax},
}

func TestParseRequest(t *testing.T) {
	t.Parallel()
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := wire.ParseRequest([]byte(tt.body), 0)
			if !errors.Is(err, tt.err) {
				t.Fatalf("ParseRequest(%q) error = %v, want %v", tt.body, err, tt.err)
			}
			if err != nil {
				return
			}
			if !samePacket(p, tt.want) {
				t.Errorf("ParseRequest(%q) =\n %s\nwant\n %s", tt.body, showPacket(p), showPacket(tt.want))
			}
			if got, want := p.IsEvent(), tt.want.ID == nil; got != want {
				t.Errorf("IsEvent() = %t, want %t", got, want)
			}
			// Members alias the body with no room to grow into it.
			for _, m := range [][]byte{p.Pattern, p.Data, p.ID, p.Metadata} {
				if cap(m) != len(m) {
					t.Errorf("member %q has cap %d > len %d: an append would overwrite the body", m, cap(m), len(m))
				}
			}
		})
	}
}

// jsonCorpus is valid and invalid JSON of every kind, for comparing
// ParseRequest's verdict with encoding/json's.
var jsonCorpus = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+10`, `-1E-2`, `true`, `false`, `null`,
	`{"a":[1,{"b":null}],"c":"\u00e9\n\"\\\/\b\f\r\t"}`,
	`{"\ud800":"\udc00"}`,  // lone surrogate escapes are valid JSON
	"{\"a\":\"\xff\xfe\"}", // invalid UTF-8 inside a string: both accept
	"{\"a\":\"\x7f\"}",     // DEL needs no escape
	` [ 1 , [ ] , { } ] `,
	`{"a":1,"a":2}`,
	`{"pattern":"x","data":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
	``, ` `, `{`, `}`, `[`, `]`, `{"a"`, `{"a":`, `{"a":1`, `{"a":1,`, `[1,`, `"abc`,
	`{a:1}`, `{"a":1,}`, `[1,]`, `[,1]`, `{"a" 1}`, `{"a"::1}`, `{"a":1 "b":2}`,
	`01`, `1.`, `.1`, `1e`, `1e+`, `-`, `--1`, `+1`, `0x10`, `Infinity`, `NaN`, `1_000`,
	`tru`, `truee`, `nul`, `nulll`, `fals`, `True`, `NULL`,
	`"\x"`, `"\u12"`, `"\u12g4"`, `"\`, "\"\x00\"", "\"\n\"", "\"\t\"",
	"\xef\xbb\xbf{}", "{}\xff", "\xff",
	`{} {}`, `[] x`, `1 2`, `{"a":1}}`, `[1]]`,
	"\u00a0{}", "\f{}", "\v{}", // only space, tab, CR, LF are JSON blanks
}

// TestParseRequestAgreesWithEncodingJSON compares validity with json.Valid
// and, for objects, the members with what json.Unmarshal makes of them.
func TestParseRequestAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	corpus := append([]string(nil), jsonCorpus...)
	for _, tt := range parseTests {
		corpus = append(corpus, tt.body)
	}
	for _, body := range corpus {
		t.Run(fmt.Sprintf("%q", body), func(t *testing.T) {
			t.Parallel()
			checkAgainstEncodingJSON(t, []byte(body))
		})
	}
}

// checkAgainstEncodingJSON is shared with FuzzParseRequest.
func checkAgainstEncodingJSON(t *testing.T, body []byte) {
	t.Helper()
	p, err := wire.ParseRequest(body, 0)
	if errors.Is(err, wire.ErrTooDeep) {
		return // encoding/json allows deeper nesting
	}
	valid := err == nil || errors.Is(err, wire.ErrNotObject)
	if jv := json.Valid(body); valid != jv {
		t.Fatalf("ParseRequest(%q) error = %v, but json.Valid = %t", body, err, jv)
	}
	if !valid {
		if !errors.Is(err, wire.ErrSyntax) && !errors.Is(err, wire.ErrNotEnded) {
			t.Errorf("ParseRequest(%q) error = %v, want ErrSyntax or ErrNotEnded", body, err)
		}
		return
	}
	var m map[string]json.RawMessage
	uerr := json.Unmarshal(body, &m)
	if err != nil { // ErrNotObject
		if uerr == nil && m != nil {
			t.Errorf("ParseRequest(%q) = ErrNotObject, but json.Unmarshal made an object of it: %v", body, m)
		}
		return
	}
	if uerr != nil {
		t.Fatalf("ParseRequest(%q) accepted an object json.Unmarshal rejects: %v", body, uerr)
	}
	member := func(k string) []byte {
		if v, ok := m[k]; ok {
			return v
		}
		return nil
	}
	want := wire.Packet{Pattern: member("pattern"), Data: member("data"), ID: member("id"), Metadata: member("metadata")}
	if !samePacket(p, want) {
		t.Errorf("ParseRequest(%q) =\n %s\nencoding/json:\n %s", body, showPacket(p), showPacket(want))
	}
}

func nested(depth int, open, close, inner string) string {
	return strings.Repeat(open, depth) + inner + strings.Repeat(close, depth)
}

func TestParseRequestDepth(t *testing.T) {
	t.Parallel()
	deepArrays := nested(100000, "[", "]", "")
	tests := []struct {
		name     string
		body     string
		maxDepth int
		err      error
	}{
		// The request object itself is the first level.
		{"5 levels of objects", `{"a":` + nested(3, `{"b":`, `}`, `{}`) + `}`, 5, nil},
		{"6 levels of objects", `{"a":` + nested(4, `{"b":`, `}`, `{}`) + `}`, 5, wire.ErrTooDeep},
		{"5 levels with arrays", `{"data":` + nested(4, "[", "]", "1") + `}`, 5, nil},
		{"6 levels with arrays", `{"data":` + nested(5, "[", "]", "1") + `}`, 5, wire.ErrTooDeep},
		{"6 levels in an ignored member", `{"x":` + nested(5, "[", "]", "") + `,"pattern":1}`, 5, wire.ErrTooDeep},
		{"5 levels, not an object", nested(5, "[", "]", ""), 5, wire.ErrNotObject},
		{"6 levels, not an object", nested(6, "[", "]", ""), 5, wire.ErrTooDeep},
		{"depth 1 allows a flat object", `{"a":1}`, 1, nil},
		{"depth 1 rejects a nested array", `{"a":[]}`, 1, wire.ErrTooDeep},
		{"default: 1000 levels", `{"a":` + nested(999, "[", "]", "") + `}`, 0, nil},
		{"default: 1001 levels", `{"a":` + nested(1000, "[", "]", "") + `}`, 0, wire.ErrTooDeep},
		{"negative means default", `{"a":` + nested(1000, "[", "]", "") + `}`, -1, wire.ErrTooDeep},

		// Hostile nesting must cost no stack.
		{"100000 open brackets", strings.Repeat("[", 100000), 0, wire.ErrTooDeep},
		{"100000 open brackets in data", `{"data":` + strings.Repeat("[", 100000), 0, wire.ErrTooDeep},
		{"100000 open brackets, no limit", strings.Repeat("[", 100000), 1 << 30, wire.ErrNotEnded},
		{"100000 balanced brackets, no limit", deepArrays, 1 << 30, wire.ErrNotObject},
		{"100000 balanced brackets in data, no limit", `{"data":` + deepArrays + `}`, 1 << 30, nil},

		// Past the 256 levels kept inline, arrays and objects must still be
		// told apart when they close.
		{"300 alternating levels", `{"d":` + nested(150, `[{"k":`, `}]`, `0`) + `}`, 1 << 30, nil},
		{"300 alternating levels, ] closes the innermost object", `{"d":` + strings.Repeat(`[{"k":`, 150) + `0]`, 1 << 30, wire.ErrSyntax},
		{"300 alternating levels, } closes an array at level 261", `{"d":` + strings.Repeat(`[{"k":`, 150) + `0` + strings.Repeat(`}]`, 20) + `}}`, 1 << 30, wire.ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := wire.ParseRequest([]byte(tt.body), tt.maxDepth)
			if !errors.Is(err, tt.err) {
				t.Errorf("ParseRequest(<%d bytes>, %d) error = %v, want %v", len(tt.body), tt.maxDepth, err, tt.err)
			}
		})
	}
}

func TestValid(t *testing.T) {
	t.Parallel()
	for _, body := range jsonCorpus {
		err := wire.Valid([]byte(body), wire.DefaultMaxDepth)
		if got, want := err == nil, json.Valid([]byte(body)); got != want {
			t.Errorf("Valid(%q) = %v, but json.Valid = %t", body, err, want)
		}
	}
}

// TestLongStrings: strings past 32 plain bytes take skipLong's path
// (vectorized search for the quote and backslash, then control
// characters); every way such a string ends must be judged as
// encoding/json judges it, escapes and all.
func TestLongStrings(t *testing.T) {
	long := strings.Repeat("abcdefgh", 8) // 64 plain bytes
	for _, s := range []string{
		long, long + "\x01" + long, long + `\"` + long, long + `\\` + long + `\"`,
		strings.Repeat(long+`\"`, 20), strings.Repeat(`\u00e9`+long, 5), long + `\q` + long,
		long + `\u12` + long, long + "\x1f", long + "é" + long, long + `\`, long + `\u`,
		strings.Repeat(`x\"`, 200), long + long + long + "\n",
	} {
		for _, tail := range []string{`"}`, ``, `"`, `"` + "\x01" + `}`} {
			body := `{"pattern":"p","data":"` + s + tail
			checkAgainstEncodingJSON(t, []byte(body))
		}
	}
}
