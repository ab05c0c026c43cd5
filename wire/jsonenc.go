package wire

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/msgpattern/msgpattern/internal/structjson"
)

// AppendJSON appends v encoded as JSON.stringify would print the same value:
// '<', '>' and '&' are not escaped and U+2028/U+2029 are written raw, unlike
// encoding/json's defaults. Common scalar types and json.RawMessage are
// encoded directly; everything else as encoding/json encodes it (by the
// faster internal/structjson where it covers the type, else by encoding/json
// itself), so struct tags and json.Marshaler work as usual. A RawMessage is
// validated and compacted, as encoding/json does with one inside a struct. Where the two
// differ, encoding/json's choice stands: NaN and ±Inf are an error
// (JSON.stringify writes null), and -0 inside a struct, slice or map is
// written -0 (JSON.stringify writes 0; a top-level -0, of any float type or
// a json.RawMessage that is a -0 number, is written 0), which JavaScript
// reads as a number === 0. A map's keys are in encoding/json's order, sorted
// as strings ({"10":…,"9":…}), where JSON.stringify writes integer-like keys
// first, in numeric order ({"9":…,"10":…}); JSON.parse gives the same
// object either way. And a string inside a struct, slice, map or
// MarshalText's text with invalid UTF-8 has each invalid byte written as the
// escape \ufffd, as encoding/json writes it (so has a named string type's);
// a top-level string, like a json.RawMessage, is written as Node.js decodes
// its bytes (AppendString).
func AppendJSON(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case json.RawMessage:
		out, err := appendRaw(dst, x)
		if err == nil && isNegativeZero(out[len(dst):]) {
			// JSON.stringify(-0) is "0", however the -0 was spelt
			// (-0, -0.0, -0e5, -1e-400): as for a top-level float below.
			out = append(out[:len(dst)], '0')
		}
		return out, err
	case string:
		return AppendString(dst, x), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			break // let encoding/json report the error
		}
		return appendFloat(dst, x), nil
	}
	// Structs, slices, maps…: encoding/json's text, faster, or (for what
	// the fast path does not cover) encoding/json itself.
	out, ok := structjson.Append(dst, v)
	var err error
	if !ok {
		out, err = appendMarshal(dst, v)
	}
	if err == nil && string(out[len(dst):]) == "-0" {
		// A float32, a named float type, a pointer to one or a
		// Marshaler: JSON.stringify(-0) is "0" whatever produced it.
		out = append(out[:len(dst)], '0')
	}
	return out, err
}

// isNegativeZero reports whether b, compact JSON, is a number that
// JavaScript reads as -0: one with a minus sign that rounds to zero (-0,
// -0.0, -0e5, and -1e-400 too). Only a value starting with '-' is parsed,
// and that is a number.
func isNegativeZero(b []byte) bool {
	if len(b) < 2 || b[0] != '-' {
		return false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	return err == nil && f == 0
}

// appendFloat prints f as ECMAScript's Number::toString does, which is also
// what encoding/json does for float64 (structjson.AppendFloat), except for
// -0: encoding/json keeps the sign, JavaScript does not. f is finite.
func appendFloat(dst []byte, f float64) []byte {
	if f == 0 {
		f = 0 // -0 prints as "0" in JavaScript
	}
	dst, _ = structjson.AppendFloat(dst, f, 64)
	return dst
}

// appendRaw copies pre-encoded JSON after checking it, so that a handler's
// mistake becomes an error instead of a frame that breaks the peer. It is
// compacted, as a nested RawMessage is: whitespace would split a line-framed
// reply, and JSON.stringify never writes it.
func appendRaw(dst []byte, raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 {
		return append(dst, "null"...), nil
	}
	if err := Valid(raw, encodingJSONMaxDepth); err != nil {
		return dst, err
	}
	var out []byte
	if !utf8.Valid(raw) {
		out = SanitizeUTF8(dst, structjson.Compact(nil, raw))
	} else {
		out = structjson.Compact(dst, raw)
	}
	if bytes.Contains(out[len(dst):], []byte(`\u202`)) {
		// U+2028 and U+2029 raw, as JSON.stringify writes them and as a
		// nested RawMessage is written (appendMarshal). In valid JSON, as
		// in encoding/json's output, a backslash only ever starts an
		// escape.
		body := bytes.Clone(out[len(dst):])
		out = appendUnescapeLineSeparators(out[:len(dst)], body)
	}
	return out, nil
}

// encodingJSONMaxDepth is the deepest nesting encoding/json accepts in a
// Marshaler's output, a nested RawMessage's included: a top-level one is
// held to the same bound, not to DefaultMaxDepth, a limit on requests.
const encodingJSONMaxDepth = 10000

type encodeBuffer struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := new(encodeBuffer)
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

func appendMarshal(dst []byte, v any) ([]byte, error) {
	e := encoders.Get().(*encodeBuffer)
	defer func() {
		if e.buf.Cap() <= 64<<10 { // do not let one huge reply pin memory in the pool
			e.buf.Reset()
			encoders.Put(e)
		}
	}()
	if err := e.enc.Encode(v); err != nil {
		return dst, err
	}
	out := bytes.TrimSuffix(e.buf.Bytes(), []byte{'\n'})
	if !utf8.Valid(out) {
		// encoding/json copies a Marshaler's or a nested RawMessage's
		// bytes as they are. A frame's length counts the UTF-16 units its
		// peer decodes, so the body must be what it decodes: replace as
		// a WHATWG decoder (node) does.
		out = SanitizeUTF8(nil, out)
	}
	return appendUnescapeLineSeparators(dst, out), nil
}

// appendUnescapeLineSeparators copies encoding/json output, turning its
// \u2028 and \u2029 escapes back into the raw characters JSON.stringify
// writes.
func appendUnescapeLineSeparators(dst, b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u202`)) {
		return append(dst, b...)
	}
	// In encoding/json output a backslash only ever starts an escape, so
	// walking from escape to escape never mistakes an escaped backslash
	// followed by "u2028" for the escape of U+2028.
	for {
		i := bytes.IndexByte(b, '\\')
		if i < 0 || i+1 >= len(b) {
			return append(dst, b...)
		}
		dst = append(dst, b[:i]...)
		if i+5 < len(b) && b[i+1] == 'u' && string(b[i+2:i+5]) == "202" && (b[i+5] == '8' || b[i+5] == '9') {
			dst = utf8.AppendRune(dst, rune(0x2020)+rune(b[i+5]-'0'))
			b = b[i+6:]
			continue
		}
		dst = append(dst, b[i], b[i+1]) // any other escape, copied whole
		b = b[i+2:]
	}
}

// AppendString appends s as a JSON string the way JSON.stringify writes it:
// only '"', '\\' and control characters are escaped; everything else,
// including U+2028, U+2029 and '<', is written raw. Invalid UTF-8 is written
// as U+FFFD, one for each maximal invalid subpart, as Node.js decodes the
// bytes (SanitizeUTF8): the string a NestJS peer would have had.
func AppendString(dst []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = string(SanitizeUTF8(nil, []byte(s)))
	}
	return structjson.AppendString(dst, s, "\uFFFD")
}
