package wire_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/msgpattern/msgpattern/wire"
)

// jsParseInt reads a length prefix (without its '#') as NestJS's parseInt
// would, for the lengths a FrameScanner accepts: ECMAScript WhiteSpace and
// LineTerminator (Unicode's Zs plus a few), an optional '+', digits, then
// anything.
func jsParseInt(h []byte) (int, bool) {
	h = bytes.TrimLeftFunc(h, func(r rune) bool {
		return unicode.Is(unicode.Zs, r) || strings.ContainsRune("\t\n\v\f\r\uFEFF\u2028\u2029", r)
	})
	i := 0
	if i < len(h) && h[i] == '+' {
		i++
	}
	j := i
	for j < len(h) && h[j] >= '0' && h[j] <= '9' {
		j++
	}
	n, err := strconv.Atoi(string(h[i:j]))
	return n, err == nil
}

func FuzzFrameScanner(f *testing.F) {
	for _, tt := range frameTests {
		f.Add([]byte(tt.in), 0, tt.max)
		f.Add([]byte(tt.in), len(tt.in)/2, tt.max)
	}
	for _, tt := range utf16Tests {
		f.Add([]byte(fmt.Sprintf("%d#%s0#", tt.units, tt.text)), 3, 0)
	}
	f.Fuzz(func(t *testing.T, data []byte, split, maxUnits int) {
		newScanner := func() *wire.FrameScanner { return &wire.FrameScanner{MaxUnits: maxUnits} }
		whole := scanChunks(newScanner(), data)
		p := 0
		if len(data) > 0 {
			p = int(uint(split) % uint(len(data)+1))
		}
		if got := scanChunks(newScanner(), data, p); !got.equal(whole) {
			t.Fatalf("split at %d:\n got  %v\n whole %v", p, got, whole)
		}
		if len(data) <= 512 {
			if got := scanChunks(newScanner(), data, byteSteps(len(data))...); !got.equal(whole) {
				t.Fatalf("byte by byte:\n got  %v\n whole %v", got, whole)
			}
		}

		// Every frame is its header followed by its body, within the input,
		// and the header's length is the body's length in UTF-16 units as
		// Node.js decodes it.
		off := 0
		for i, fr := range whole.frames {
			if fr.Len <= len(fr.Body) || off+fr.Len > len(data) {
				t.Fatalf("frame %d: Len %d with a %d-byte body at offset %d of %d", i, fr.Len, len(fr.Body), off, len(data))
			}
			raw := data[off : off+fr.Len]
			header, body := raw[:fr.Len-len(fr.Body)], raw[fr.Len-len(fr.Body):]
			if string(body) != fr.Body || header[len(header)-1] != '#' || len(header) > 32 {
				t.Fatalf("frame %d: %q is not header %q + body %q", i, raw, header, fr.Body)
			}
			declared, ok := jsParseInt(header[:len(header)-1])
			if !ok {
				t.Fatalf("frame %d: header %q accepted but has no length", i, header)
			}
			if limit := cmp.Or(max(maxUnits, 0), wire.DefaultMaxFrameUnits); declared > limit {
				t.Fatalf("frame %d: header %q accepted over MaxUnits %d", i, header, limit)
			}
			units, _, invalid := refDecode(body)
			if units != declared || invalid != fr.Invalid {
				t.Fatalf("frame %d: body %q has %d units (invalid %t), header %q says %d; scanner said invalid %t",
					i, body, units, invalid, header, declared, fr.Invalid)
			}
			if utf8.Valid(body) {
				if n := wire.Units(body); n != declared {
					t.Fatalf("frame %d: Units(%q) = %d, header says %d", i, body, n, declared)
				}
			}
			off += fr.Len
		}
		if whole.err == nil && off+whole.rest != len(data) {
			t.Fatalf("frames cover %d bytes and %d are left, of %d", off, whole.rest, len(data))
		}
		checkScanEnd(t, data[off:], whole.err, maxUnits)

		// MinRemaining never asks for more bytes than Scan needs before it
		// reports the frame (which, for a body ending in a truncated
		// sequence, includes the byte after the frame).
		var s wire.FrameScanner
		s.MaxUnits = maxUnits
		if fr, err := s.Scan(data[:p]); err == nil && fr.Len == 0 {
			least := s.MinRemaining()
			for n := p + 1; n <= len(data); n++ {
				fr, err := s.Scan(data[:n])
				if err != nil {
					break
				}
				if fr.Len > 0 {
					if n-p < least {
						t.Fatalf("after %d bytes MinRemaining() = %d, but %d more completed the frame", p, least, n-p)
					}
					break
				}
			}
		}
	})
}

// jsLength reads a length prefix (without its '#') as jsParseInt does, with
// no limit on its value: ok is false when parseInt gives NaN, and big is
// true when the value exceeds max.
func jsLength(h []byte, max int) (n int, big, ok bool) {
	h = bytes.TrimLeftFunc(h, func(r rune) bool {
		return unicode.Is(unicode.Zs, r) || strings.ContainsRune("\t\n\v\f\r\uFEFF\u2028\u2029", r)
	})
	h = bytes.TrimPrefix(h, []byte("+"))
	j := 0
	for j < len(h) && h[j] >= '0' && h[j] <= '9' {
		j++
	}
	if j == 0 {
		return 0, false, false
	}
	digits, limit := strings.TrimLeft(string(h[:j]), "0"), strconv.Itoa(max)
	if len(digits) > len(limit) || len(digits) == len(limit) && digits > limit {
		return 0, true, true
	}
	n, _ = strconv.Atoi("0" + digits)
	return n, false, true
}

// checkScanEnd checks what a FrameScanner made of rest, the input after
// its last frame: the error it gave (or nil when it waits for more bytes)
// must be the one the header and body call for. The frames' own checks
// cannot see a scanner that wrongly rejects, or wrongly waits on, a frame.
func checkScanEnd(t *testing.T, rest []byte, err error, maxUnits int) {
	t.Helper()
	max := maxUnits
	if max <= 0 {
		max = wire.DefaultMaxFrameUnits
	}
	hash := bytes.IndexByte(rest[:min(len(rest), 32)], '#')
	if hash < 0 {
		if want := len(rest) >= 32; want != (err == wire.ErrCorruptLength) || (!want && err != nil) {
			t.Fatalf("%d bytes without '#' after the last frame (%q): error %v", len(rest), rest, err)
		}
		return
	}
	declared, big, ok := jsLength(rest[:hash], max)
	switch {
	case !ok:
		if err != wire.ErrCorruptLength {
			t.Fatalf("header %q is NaN to parseInt, but the scanner said %v", rest[:hash+1], err)
		}
		return
	case big:
		if err != wire.ErrFrameTooLarge {
			t.Fatalf("header %q is over %d units, but the scanner said %v", rest[:hash+1], max, err)
		}
		return
	}
	body := rest[hash+1:]
	// Where the body reaches declared-1 units right before a character of
	// two units, the length splits a surrogate pair.
	split := false
	for k := 0; k < len(body); k++ {
		if r, size := utf8.DecodeRune(body[k:]); size == 4 && r > 0xFFFF {
			if u, _, _ := refDecode(body[:k]); u == declared-1 {
				split = true
				break
			}
		}
	}
	switch err {
	case wire.ErrSplitSurrogate:
		if !split {
			t.Fatalf("header %q, body %q: ErrSplitSurrogate, but no surrogate pair sits at unit %d", rest[:hash+1], body, declared)
		}
	case nil:
		// Waiting for more: the body so far (a truncated sequence at its
		// end counted as the one U+FFFD it would at least become) is short.
		if u, _, _ := refDecode(body); u > declared || split {
			t.Fatalf("header %q, body %q of %d units (split pair %t): the scanner waits for more", rest[:hash+1], body, u, split)
		}
	default:
		t.Fatalf("header %q (%d units, max %d), body %q: unexpected error %v", rest[:hash+1], declared, max, body, err)
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, tt := range parseTests {
		f.Add([]byte(tt.body))
	}
	for _, s := range jsonCorpus {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAgainstEncodingJSON(t, body)
		// A tighter depth limit only ever turns success into ErrTooDeep.
		_, errDefault := wire.ParseRequest(body, 0)
		_, errShallow := wire.ParseRequest(body, 3)
		if errShallow != errDefault && errShallow != wire.ErrTooDeep {
			t.Fatalf("ParseRequest(%q): depth 3 gives %v, default depth %v", body, errShallow, errDefault)
		}
		// For valid JSON, it does so exactly when the nesting is deeper.
		if errDefault == nil || errDefault == wire.ErrNotObject {
			want := errDefault
			if nesting(body) > 3 {
				want = wire.ErrTooDeep
			}
			if errShallow != want {
				t.Fatalf("ParseRequest(%q): depth 3 gives %v for %d levels, want %v", body, errShallow, nesting(body), want)
			}
		}
	})
}

// jsTruthy is JavaScript's truthiness of JSON.parse(v), worked out from
// encoding/json's reading of v and math/big's rounding of numbers to a
// double (1e-400 is 0, falsy; 1e400 is Infinity, truthy); nil is undefined.
func jsTruthy(t *testing.T, v []byte) bool {
	if v == nil {
		return false
	}
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		t.Fatalf("member %q: %v", v, err)
	}
	switch x := x.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case json.Number:
		f, _, err := big.ParseFloat(string(x), 10, 200, big.ToNearestEven)
		if err != nil {
			t.Fatalf("number %q: %v", x, err)
		}
		f64, _ := f.Float64()
		return f64 != 0
	}
	return true // objects and arrays
}

// FuzzParseReply checks the client's reply decoding against encoding/json
// and JavaScript's truthiness, which a NestJS client applies to err and
// isDisposed.
func FuzzParseReply(f *testing.F) {
	for _, s := range jsonCorpus {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		`{"err":null,"response":{"a":[1,2]},"isDisposed":true,"id":"x"}`, `{"err":"boom","id":1,"status":"error"}`,
		`{"err":0,"isDisposed":-0.0e5,"id":null}`, `{"err":1e-400,"isDisposed":1e400}`, `{"err":"","isDisposed":[]}`,
		`{"\u0065rr":"x","is\u0044isposed":{},"id":2,"id":3}`, `{"response":1,"pattern":"p"}`, `{"isDisposed":false}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, ok, err := wire.ParseReply(body, 0)
		// The same reader as ParseRequest's, which FuzzParseRequest holds
		// to encoding/json: the same errors.
		if _, reqErr := wire.ParseRequest(body, 0); err != reqErr {
			t.Fatalf("ParseReply(%q) error %v, ParseRequest's %v", body, err, reqErr)
		}
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("ParseReply(%q) accepted what encoding/json rejects: %v", body, err)
		}
		member := func(k string) []byte {
			if v, ok := m[k]; ok {
				return v
			}
			return nil
		}
		same := func(x, y []byte) bool { return (x == nil) == (y == nil) && bytes.Equal(x, y) }
		if !same(r.ID, member("id")) || !same(r.Response, member("response")) || !same(r.Err, member("err")) ||
			!same(r.Status, member("status")) || !same(r.Disposed, member("isDisposed")) {
			t.Fatalf("ParseReply(%q) = id %q response %q err %q status %q isDisposed %q; encoding/json: %q",
				body, r.ID, r.Response, r.Err, r.Status, r.Disposed, m)
		}
		wantOK := true
		for k := range m {
			switch k {
			case "id", "response", "err", "status", "isDisposed":
			default:
				wantOK = false
			}
		}
		if ok != wantOK {
			t.Fatalf("ParseReply(%q): ok %t, but its members are %q", body, ok, m)
		}
		if want := jsTruthy(t, r.Disposed); r.IsDisposed != want {
			t.Fatalf("ParseReply(%q): IsDisposed %t, JavaScript says %t", body, r.IsDisposed, want)
		}
		if want := jsTruthy(t, r.Err); r.HasError() != want {
			t.Fatalf("ParseReply(%q): HasError %t, JavaScript says %t", body, r.HasError(), want)
		}
		if r.HasReplyMember() != (r.Err != nil || r.Response != nil || r.Disposed != nil) {
			t.Fatalf("ParseReply(%q): HasReplyMember %t", body, r.HasReplyMember())
		}
	})
}

// nesting is the deepest nesting of arrays and objects in the valid JSON b.
func nesting(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

func FuzzSanitizeUTF8(f *testing.F) {
	for _, tt := range utf16Tests {
		f.Add([]byte(tt.text))
	}
	for _, s := range stringCorpus {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out := wire.SanitizeUTF8(nil, b)
		if n := wire.SanitizedLen(b); n != len(out) {
			t.Fatalf("SanitizedLen(%q) = %d, SanitizeUTF8 made %d bytes", b, n, len(out))
		}
		if !utf8.Valid(out) {
			t.Fatalf("SanitizeUTF8(%q) = %q: not valid UTF-8", b, out)
		}
		if utf8.Valid(b) && !bytes.Equal(out, b) {
			t.Fatalf("SanitizeUTF8(%q) = %q: changed valid UTF-8", b, out)
		}
		units, ref, _ := refDecode(b)
		if !bytes.Equal(out, ref) {
			t.Fatalf("SanitizeUTF8(%q) = %q, reference decoder %q", b, out, ref)
		}
		if n := wire.Units(out); n != units {
			t.Fatalf("Units(SanitizeUTF8(%q)) = %d, reference %d", b, n, units)
		}
		// The scanner counts the raw input as the sanitized text's length.
		// A byte follows so that a trailing truncated sequence is seen to end.
		header := fmt.Sprintf("%d#", units)
		in := append(append([]byte(header), b...), ' ')
		fr, err := (&wire.FrameScanner{}).Scan(in)
		if err != nil || fr.Len != len(header)+len(b) || !bytes.Equal(fr.Body, b) || fr.InvalidUTF8 == utf8.Valid(b) {
			t.Fatalf("Scan(%q) = {%q Len %d InvalidUTF8 %t}, %v; want the whole %d-byte body", in, fr.Body, fr.Len, fr.InvalidUTF8, err, len(b))
		}
	})
}

func FuzzAppendString(f *testing.F) {
	for _, s := range stringCorpus {
		f.Add(s)
	}
	for _, tt := range appendJSONTests {
		if s, ok := tt.v.(string); ok {
			f.Add(s)
		}
	}
	f.Add(`\u202\u2028`)
	f.Fuzz(func(t *testing.T, s string) {
		out := wire.AppendString(nil, s)
		if !utf8.Valid(out) || !json.Valid(out) {
			t.Fatalf("AppendString(%q) = %q: not valid UTF-8 JSON", s, out)
		}
		// Invalid UTF-8 is written as Node.js decodes it: one U+FFFD for
		// each maximal invalid subpart.
		_, want, _ := refDecode([]byte(s))
		var back string
		if err := json.Unmarshal(out, &back); err != nil || back != string(want) {
			t.Fatalf("AppendString(%q) = %q decodes to %q, %v; want %q", s, out, back, err, want)
		}
		if !utf8.ValidString(s) {
			return
		}
		// encoding/json's output, as AppendJSON fixes it up, must match.
		via, err := wire.AppendJSON(nil, map[string]string{"k": s})
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"k":` + string(out) + `}`; string(via) != want {
			t.Fatalf("string %q: AppendJSON(map) = %q, want %q", s, via, want)
		}
	})
}

// FuzzAppendRawMessage: a json.RawMessage is written as encoding/json's
// Compact writes it (with invalid UTF-8 replaced, and U+2028/U+2029 raw as
// JSON.stringify writes them), and its frame length is right in every
// framing.
func FuzzAppendRawMessage(f *testing.F) {
	for _, tt := range appendJSONTests {
		if r, ok := tt.v.(json.RawMessage); ok {
			f.Add([]byte(r))
		}
	}
	f.Add([]byte("{\n  \"a\": \"\\\\\" \",\n  \"b\": [ 1 , \"\u2028\" ]\n}"))
	for n := 28; n <= 34; n++ { // escapes around where a long string's scan changes gear
		x := strings.Repeat("x", n)
		f.Add([]byte(`[ "` + x + `\" \\" , "` + x + `\\" , "` + x + `\\\"" ]`))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := wire.AppendJSON(nil, json.RawMessage(raw))
		if len(raw) == 0 {
			return
		}
		// It fails exactly where encoding/json fails on the same RawMessage
		// (invalid JSON, nesting past 10000 levels).
		if _, wantErr := json.Marshal(json.RawMessage(raw)); (err != nil) != (wantErr != nil) {
			t.Fatalf("AppendJSON(RawMessage(%q)) error %v; encoding/json's %v", raw, err, wantErr)
		}
		if err != nil {
			return
		}
		var want bytes.Buffer
		if err := json.Compact(&want, raw); err != nil {
			return // deeper than encoding/json allows, say
		}
		w := rawSeparators(wire.SanitizeUTF8(nil, want.Bytes()))
		if f, err := strconv.ParseFloat(string(w), 64); err == nil && f == 0 && w[0] == '-' {
			w = []byte("0") // a top-level -0: JSON.stringify(-0) is "0"
		}
		if !bytes.Equal(out, w) {
			t.Fatalf("AppendJSON(RawMessage(%q)) = %q, want %q", raw, out, w)
		}
		for _, fr := range []wire.Framing{wire.NestJS, wire.NDJSON} {
			b, err := wire.AppendValueOf(nil, fr, json.RawMessage(raw), []byte("1"), true)
			if err != nil {
				t.Fatal(err)
			}
			body := b
			if fr == wire.NestJS {
				h := bytes.IndexByte(b, '#')
				body = b[h+1:]
				if n, _ := strconv.Atoi(string(b[:h])); n != wire.Units(body) {
					t.Fatalf("frame %q: header says %d, body has %d units", b, n, wire.Units(body))
				}
			} else if bytes.IndexByte(b, '\n') != len(b)-1 {
				t.Fatalf("line-framed reply %q is not one line", b)
			}
		}
	})
}

// rawSeparators turns the escapes \u2028 and \u2029 of valid JSON into the
// raw characters, walking from escape to escape.
func rawSeparators(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			out = append(out, b[i])
			continue
		}
		if i+5 < len(b) && b[i+1] == 'u' && string(b[i+2:i+5]) == "202" && (b[i+5] == '8' || b[i+5] == '9') {
			if b[i+5] == '8' {
				out = append(out, "\u2028"...)
			} else {
				out = append(out, "\u2029"...)
			}
			i += 5
			continue
		}
		out = append(out, b[i], b[i+1])
		i++
	}
	return out
}
