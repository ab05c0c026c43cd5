package wire_test

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	})
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
		if !utf8.ValidString(s) {
			return
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil || back != s {
			t.Fatalf("AppendString(%q) = %q decodes to %q, %v", s, out, back, err)
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
		if len(raw) == 0 || err != nil {
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
