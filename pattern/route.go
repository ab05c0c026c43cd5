package pattern

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every error [Of] returns.
var ErrInvalid = errors.New("pattern: invalid pattern")

// Route computes the route key of a pattern as it arrives on the wire: raw is
// the raw JSON value of the request's "pattern" member (any JSON value,
// possibly with surrounding whitespace, escapes, any key order). It does what
// a NestJS server does on receipt: a non-string is stringified, the string is
// JSON.parse'd if it parses, and the result is normalized. ok is false when no
// route can ever match: for null, true and false, for a string that
// JSON-parses to one of those, for a number too large for a double, for raw
// that is not valid JSON, and for a pattern, or the JSON text in a string
// pattern, nested deeper than 10000 levels.
//
// The result aliases raw or is appended to scratch[:0]; it is only valid
// until raw or scratch is reused. Route does not allocate for a plain string
// (no backslashes) that does not parse as JSON, such as "sum" or "user.get",
// nor for an integer of up to 15 digits, bare or in a string; with a scratch
// buffer of sufficient capacity it does not allocate for small object
// patterns either. Route is safe for concurrent use.
func Route(raw, scratch []byte) (route []byte, ok bool) {
	raw = trimWS(raw)
	if len(raw) == 0 {
		return nil, false
	}
	if raw[0] == '"' {
		if s, plain := plainString(raw); plain {
			if r, ok, done := routeText(s, scratch); done {
				return r, ok
			}
		}
	} else if r, ok, done := routeNumber(raw, scratch, true); done {
		return r, ok
	}
	st := getState()
	defer putState(st)
	return st.route(raw, scratch)
}

// route is the general case of Route.
func (st *state) route(raw, scratch []byte) ([]byte, bool) {
	p := st.parser(raw)
	if raw[0] != '"' {
		// Nest sees JSON.parse(JSON.stringify(v)): the same value, except
		// that numbers beyond a double's range went Infinity -> null.
		p.infToNull = true
		root, ok := p.parse()
		if !ok {
			return nil, false
		}
		return st.appendTop(scratch[:0], root)
	}

	root, ok := p.parse()
	if !ok {
		return nil, false
	}
	s := st.values[root].str
	text := st.bytes(raw, s)
	copied := s.inBuf
	if copied {
		// The second parse needs st.buf; keep the decoded text apart.
		st.content, st.buf = st.buf, st.content[:0]
		text = st.content[s.lo:s.hi]
	}
	st.reset()
	r, ok, done := routeText(text, scratch)
	if !done {
		p = st.parser(text)
		p.trusted = true
		root, parsed := p.parse()
		switch {
		case parsed:
			return st.appendTop(scratch[:0], root)
		case p.tooDeep:
			return nil, false
		}
		r, ok = text, true // not JSON: the string is its own route
	}
	if copied && ok {
		r = append(scratch[:0], r...)
	}
	return r, ok
}

// appendTop appends the route of a whole pattern.
func (st *state) appendTop(dst []byte, root int32) ([]byte, bool) {
	v := &st.values[root]
	switch v.kind {
	case kindNull, kindTrue, kindFalse:
		// transformPatternToRoute returns these unchanged, and a handler
		// map keyed by strings never holds them.
		return nil, false
	case kindString:
		// A string is its own route, unquoted and unescaped.
		return append(dst, st.bytes(st.in, v.str)...), true
	}
	return st.appendValue(dst, root), true
}

// routeText routes the content s of a string pattern when that needs no
// parse tree: when s is not JSON (the route is s itself), a literal or a
// number. done is false when s may be a JSON object, array or string.
func routeText(s, scratch []byte) (route []byte, ok, done bool) {
	t := trimWS(s)
	if len(t) == 0 {
		return s, true, true
	}
	switch t[0] {
	case '{', '[', '"':
		return nil, false, false
	case 't', 'f', 'n':
		switch string(t) {
		case "true", "false", "null":
			return nil, false, true
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if r, ok, done := routeNumber(t, scratch, false); done {
			return r, ok, true
		}
	}
	return s, true, true
}

// routeNumber routes t when it is exactly one JSON number. An integer already
// in canonical form is its own route; anything else is formatted into
// scratch. infToNull: see parser.infToNull.
func routeNumber(t, scratch []byte, infToNull bool) (route []byte, ok, done bool) {
	if isCanonicalInt(t) {
		return t, true, true
	}
	if len(t) == 0 || numberLen(t) != len(t) {
		return nil, false, false
	}
	f, _ := strconv.ParseFloat(string(t), 64)
	if infToNull && math.IsInf(f, 0) {
		return nil, false, true
	}
	return AppendNumber(scratch[:0], f), true, true
}

// isCanonicalInt reports whether t is an integer JavaScript prints back
// unchanged: no sign other than '-' on a non-zero value, no leading zeros,
// and at most 15 digits, so that it is exact in a double.
func isCanonicalInt(t []byte) bool {
	d := t
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 15 || d[0] == '0' {
		return len(t) == 1 && t[0] == '0'
	}
	for _, c := range d {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// plainString returns the content of the JSON string raw when it needs no
// decoding: no escapes, no control characters, valid UTF-8.
func plainString(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[len(raw)-1] != '"' {
		return nil, false
	}
	s := raw[1 : len(raw)-1]
	ascii := true
	for _, c := range s {
		switch {
		case c == '"' || c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(s) {
		return nil, false
	}
	return s, true
}

func trimWS(b []byte) []byte {
	for len(b) > 0 && isWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// Of computes the route key for a pattern given by a Go program at
// registration time, as NestJS's normalizePattern does for @MessagePattern(p):
//
//   - a string, or a value of a string kind, is its own route verbatim (Nest
//     does not JSON.parse at registration, so "{\"a\":1}" only matches
//     patterns whose route is exactly that text);
//   - a value of any integer or float kind is printed as JavaScript prints
//     the number, after conversion to a double (so int64(1<<53+1) gives
//     "9007199254740992"); a float32 is first read as the shortest decimal
//     that identifies it, as encoding/json writes it ("0.1", not
//     "0.10000000149011612");
//   - a json.Number is read as a JSON number;
//   - a json.RawMessage is taken as a JSON value: an object or array gives its
//     normalized object, a number its JavaScript form, a string its content
//     verbatim;
//   - anything else (maps, structs, slices, pointers, and types with their
//     own MarshalJSON or MarshalText) is marshaled with encoding/json and the
//     result taken as a json.RawMessage.
//
// Of returns an error wrapping [ErrInvalid] for nil, booleans, JSON null,
// NaN and infinities (also number literals too large for a double anywhere in
// a value), values that encoding/json cannot marshal, invalid JSON, and the
// empty string. An object with more than 20 keys, or nested deeper than 5
// levels, is not an error: its route holds "[TOO_MANY_KEYS]" or
// "[MAX_DEPTH_REACHED]" as Nest's does, so unrelated patterns may share it.
// Nor is a string that is not valid UTF-8: it is its own route, but no peer
// can send it, as the bytes a peer sends are decoded as node decodes them
// (an invalid byte becomes U+FFFD) before they are routed.
func Of(p any) (string, error) {
	switch v := p.(type) {
	case nil:
		return "", fmt.Errorf("%w: nil", ErrInvalid)
	case string:
		return ofString(v)
	case json.RawMessage:
		return ofJSON(v)
	case json.Number:
		t := []byte(v)
		if len(t) == 0 || numberLen(t) != len(t) {
			return "", fmt.Errorf("%w: json.Number %q is not a JSON number", ErrInvalid, v)
		}
		f, _ := strconv.ParseFloat(v.String(), 64)
		return ofFloat(f)
	case bool:
		return "", fmt.Errorf("%w: a boolean can never be routed", ErrInvalid)
	case float64:
		return ofFloat(v)
	case float32:
		return ofFloat32(v)
	case int:
		return ofFloat(float64(v))
	case int64:
		return ofFloat(float64(v))
	case int32:
		return ofFloat(float64(v))
	case uint:
		return ofFloat(float64(v))
	case uint64:
		return ofFloat(float64(v))
	case uint32:
		return ofFloat(float64(v))
	}

	rv := reflect.ValueOf(p)
	if t := rv.Type(); !t.Implements(jsonMarshaler) && !t.Implements(textMarshaler) {
		switch rv.Kind() {
		case reflect.String:
			return ofString(rv.String())
		case reflect.Bool:
			return "", fmt.Errorf("%w: a boolean can never be routed", ErrInvalid)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return ofFloat(float64(rv.Int()))
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			return ofFloat(float64(rv.Uint()))
		case reflect.Float32:
			return ofFloat32(float32(rv.Float()))
		case reflect.Float64:
			return ofFloat(rv.Float())
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return ofJSON(b)
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

func ofString(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%w: empty string", ErrInvalid)
	}
	return s, nil
}

func ofFloat(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("%w: %v is not a finite number", ErrInvalid, f)
	}
	return FormatNumber(f), nil
}

func ofFloat32(f float32) (string, error) {
	g := float64(f)
	if math.IsNaN(g) || math.IsInf(g, 0) {
		return ofFloat(g)
	}
	g, _ = strconv.ParseFloat(strconv.FormatFloat(g, 'g', -1, 32), 64)
	return ofFloat(g)
}

// ofJSON is Of for a JSON text.
func ofJSON(b []byte) (string, error) {
	st := getState()
	defer putState(st)
	p := st.parser(b)
	root, ok := p.parse()
	switch {
	case !ok:
		return "", fmt.Errorf("%w: not a single JSON value (or nested deeper than %d)", ErrInvalid, maxNesting)
	case p.sawInf:
		return "", fmt.Errorf("%w: number out of range", ErrInvalid)
	}
	v := &st.values[root]
	switch v.kind {
	case kindNull, kindTrue, kindFalse:
		return "", fmt.Errorf("%w: null, true and false can never be routed", ErrInvalid)
	case kindString:
		return ofString(string(st.bytes(b, v.str)))
	}
	return string(st.appendValue(nil, root)), nil
}
