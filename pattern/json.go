package pattern

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// This file holds a small JSON parser with JSON.parse semantics that builds
// only as much of the value tree as a route needs: containers nested deeper
// than the depth limit and the members of a container with too many keys are
// validated and dropped. It is iterative, so hostile nesting cannot overflow
// the stack; nesting beyond maxNesting is rejected.

const (
	// nestMaxDepth and nestMaxKeys are DEFAULT_MAX_DEPTH and DEFAULT_MAX_KEYS
	// of Nest's transformPatternToRoute (>= 11.1.15).
	nestMaxDepth = 5
	nestMaxKeys  = 20

	// maxNesting bounds the nesting of any value we accept. Nest itself
	// parses any depth but cannot JSON.stringify past a few thousand levels
	// (see the package documentation).
	maxNesting = 10000
)

type kind uint8

const (
	kindNull kind = iota
	kindFalse
	kindTrue
	kindNumber
	kindString
	kindObject
	kindArray
	kindMaxDepth // a container nested deeper than the depth limit
	kindTooMany  // a container with more keys than the key limit
)

// span locates decoded bytes: in the parser input, or in state.buf when the
// text had to be decoded (escapes, invalid UTF-8) or generated (array keys).
type span struct {
	lo, hi int32
	inBuf  bool
}

// value is one node of the parsed tree. Members of an object or array are
// st.members[lo:hi] in source order, duplicates already merged.
type value struct {
	kind   kind
	num    float64
	str    span
	lo, hi int32
}

type member struct {
	key span
	val int32 // index into state.values
}

// frame is an open container during parsing. Its members so far are
// st.pend[start:]; they move to st.members when the container closes, so
// every container's members end up contiguous.
type frame struct {
	val     int32 // index into state.values, -1 when discarded
	start   int32
	n       int32 // distinct keys so far
	key     span  // the key whose value is being parsed
	array   bool
	discard bool // validate only, keep nothing
}

// parser reads one JSON text into st.
type parser struct {
	st  *state
	in  []byte
	pos int

	// trusted input is UTF-8/WTF-8 this package decoded itself: a string
	// pattern's content about to be JSON.parse'd a second time. Untrusted
	// input comes from the wire, where Node would have decoded invalid UTF-8
	// to U+FFFD before JSON.parse saw it.
	trusted bool
	// infToNull applies the JSON.stringify/JSON.parse round trip a Nest
	// server makes of a non-string pattern: numbers too large for a double
	// (1e400) became Infinity in the first parse and null after stringify.
	infToNull bool
	// sawInf records that some number overflowed to ±Infinity.
	sawInf bool

	maxDepth, maxKeys int32
}

// parse parses the whole input as one JSON value and returns its index in
// st.values. ok is false when the input is not exactly one valid JSON value
// or nests deeper than maxNesting.
func (p *parser) parse() (root int32, ok bool) {
	st := p.st
	stack := st.frames[:0]
	defer func() { st.frames = stack[:0] }()

	for {
		p.skipWS()
		if p.pos >= len(p.in) {
			return -1, false
		}
		discard := len(stack) > 0 && stack[len(stack)-1].discard
		v := int32(-1)
		switch c := p.in[p.pos]; {
		case c == '{' || c == '[':
			if len(stack) >= maxNesting {
				return -1, false
			}
			f := frame{val: -1, start: int32(len(st.pend)), array: c == '[', discard: discard}
			if !discard {
				switch {
				case int32(len(stack)) > p.maxDepth:
					// Nest checks the depth before looking at the keys.
					f.val = st.add(value{kind: kindMaxDepth})
					f.discard = true
				case f.array:
					f.val = st.add(value{kind: kindArray})
				default:
					f.val = st.add(value{kind: kindObject})
				}
			}
			p.pos++
			stack = append(stack, f)
			p.skipWS()
			closer := byte('}')
			if f.array {
				closer = ']'
			}
			if p.pos < len(p.in) && p.in[p.pos] == closer {
				p.pos++
				v, stack = p.closeFrame(stack)
				break
			}
			if !f.array && !p.key(&stack[len(stack)-1]) {
				return -1, false
			}
			continue // parse the first member's value
		case c == '"':
			s, ok := p.str(discard)
			if !ok {
				return -1, false
			}
			if !discard {
				v = st.add(value{kind: kindString, str: s})
			}
		case c == '-' || isDigit(c):
			f, ok := p.number(discard)
			if !ok {
				return -1, false
			}
			if !discard {
				if p.infToNull && (f > maxFloat || f < -maxFloat) {
					v = st.add(value{kind: kindNull})
				} else {
					v = st.add(value{kind: kindNumber, num: f})
				}
			}
		default:
			k, ok := p.literal()
			if !ok {
				return -1, false
			}
			if !discard {
				v = st.add(value{kind: k})
			}
		}

		// A value is complete: attach it to its container, then either
		// move on to the next member or close containers.
		for {
			if len(stack) == 0 {
				p.skipWS()
				return v, p.pos == len(p.in)
			}
			top := &stack[len(stack)-1]
			if !top.discard {
				p.attach(top, v)
			}
			p.skipWS()
			if p.pos >= len(p.in) {
				return -1, false
			}
			c := p.in[p.pos]
			if c == ',' {
				p.pos++
				if !top.array && !p.key(top) {
					return -1, false
				}
				break
			}
			if (top.array && c == ']') || (!top.array && c == '}') {
				p.pos++
				v, stack = p.closeFrame(stack)
				continue
			}
			return -1, false
		}
	}
}

// maxFloat is the largest finite double; a number beyond it is ±Infinity.
const maxFloat = 1.7976931348623157e308

// closeFrame pops the innermost container and returns its value index.
func (p *parser) closeFrame(stack []frame) (int32, []frame) {
	st := p.st
	f := stack[len(stack)-1]
	stack = stack[:len(stack)-1]
	if f.val >= 0 {
		if v := &st.values[f.val]; v.kind == kindObject || v.kind == kindArray {
			v.lo = int32(len(st.members))
			st.members = append(st.members, st.pend[f.start:]...)
			v.hi = int32(len(st.members))
			st.pend = st.pend[:f.start]
		}
	}
	return f.val, stack
}

// attach adds value v to container f. A repeated object key keeps its first
// position and takes the new value, as JSON.parse does.
func (p *parser) attach(f *frame, v int32) {
	st := p.st
	key := f.key
	if f.array {
		lo := len(st.buf)
		st.buf = strconv.AppendInt(st.buf, int64(f.n), 10)
		key = span{int32(lo), int32(len(st.buf)), true}
	} else {
		kb := st.bytes(p.in, key)
		for i := int(f.start); i < len(st.pend); i++ {
			if bytes.Equal(st.bytes(p.in, st.pend[i].key), kb) {
				st.pend[i].val = v
				return
			}
		}
	}
	if f.n >= p.maxKeys {
		// One key too many: Nest prints the marker instead of the object.
		// Whatever follows only needs validating.
		st.values[f.val].kind = kindTooMany
		st.pend = st.pend[:f.start]
		f.discard = true
		return
	}
	st.pend = append(st.pend, member{key: key, val: v})
	f.n++
}

// key reads `"key" :` into f.key.
func (p *parser) key(f *frame) bool {
	p.skipWS()
	if p.pos >= len(p.in) || p.in[p.pos] != '"' {
		return false
	}
	s, ok := p.str(f.discard)
	if !ok {
		return false
	}
	f.key = s
	p.skipWS()
	if p.pos >= len(p.in) || p.in[p.pos] != ':' {
		return false
	}
	p.pos++
	return true
}

func (p *parser) skipWS() {
	for p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (p *parser) literal() (kind, bool) {
	rest := p.in[p.pos:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "null":
		p.pos += 4
		return kindNull, true
	case len(rest) >= 4 && string(rest[:4]) == "true":
		p.pos += 4
		return kindTrue, true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		p.pos += 5
		return kindFalse, true
	}
	return 0, false
}

// number reads a JSON number. With discard it only checks the syntax.
func (p *parser) number(discard bool) (float64, bool) {
	n := numberLen(p.in[p.pos:])
	if n == 0 {
		return 0, false
	}
	text := p.in[p.pos : p.pos+n]
	p.pos += n
	// The syntax is valid, so the only possible error is ErrRange, and the
	// value returned with it (±Inf, or 0 on underflow) is what JS gets too.
	f, _ := strconv.ParseFloat(string(text), 64)
	if f > maxFloat || f < -maxFloat {
		p.sawInf = true
	}
	if discard {
		return 0, true
	}
	return f, true
}

// numberLen returns the length of the JSON number at the start of b
// (-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?), or 0 if there is none.
func numberLen(b []byte) int {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && isDigit(b[i]):
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return 0
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return 0
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return 0
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i
}

// str reads a JSON string starting at the opening quote. A string with no
// escapes and valid text is returned as a span of the input; otherwise it is
// decoded into st.buf. With discard it is only validated.
func (p *parser) str(discard bool) (span, bool) {
	start := p.pos + 1
	for i := start; i < len(p.in); {
		c := p.in[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return span{int32(start), int32(i), false}, true
		case c == '\\':
			if discard {
				return p.skipStr(i)
			}
			return p.decodeStr(start, i)
		case c < 0x20:
			return span{}, false
		case c < 0x80 || p.trusted || discard:
			i++
		default:
			r, size := utf8.DecodeRune(p.in[i:])
			if r == utf8.RuneError && size <= 1 {
				return p.decodeStr(start, i)
			}
			i += size
		}
	}
	return span{}, false
}

// skipStr validates the rest of a string from i without decoding it.
func (p *parser) skipStr(i int) (span, bool) {
	for i < len(p.in) {
		switch c := p.in[i]; {
		case c == '"':
			p.pos = i + 1
			return span{}, true
		case c == '\\':
			n := escapeLen(p.in[i:])
			if n == 0 {
				return span{}, false
			}
			i += n
		case c < 0x20:
			return span{}, false
		default:
			i++
		}
	}
	return span{}, false
}

// escapeLen returns the length of the escape sequence at the start of b, or
// 0 if it is invalid.
func escapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if _, ok := hex4(b[2:]); ok {
			return 6
		}
	}
	return 0
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case isDigit(c):
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// decodeStr decodes a string whose plain prefix is in[start:i] into st.buf.
func (p *parser) decodeStr(start, i int) (span, bool) {
	st := p.st
	lo := len(st.buf)
	st.buf = append(st.buf, p.in[start:i]...)
	for i < len(p.in) {
		c := p.in[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return span{int32(lo), int32(len(st.buf)), true}, true
		case c == '\\':
			n := escapeLen(p.in[i:])
			if n == 0 {
				return span{}, false
			}
			if n == 2 {
				st.buf = append(st.buf, unescape[p.in[i+1]])
			} else {
				u, _ := hex4(p.in[i+2:])
				st.buf = appendUnit(st.buf, lo, u)
			}
			i += n
		case c < 0x20:
			return span{}, false
		case c < 0x80:
			st.buf = append(st.buf, c)
			i++
		case p.trusted:
			// Our own UTF-8/WTF-8: copy as is.
			st.buf = append(st.buf, c)
			i++
		default:
			r, size := utf8.DecodeRune(p.in[i:])
			if r == utf8.RuneError && size <= 1 {
				st.buf = append(st.buf, "\uFFFD"...)
				i += invalidLen(p.in[i:])
				continue
			}
			st.buf = append(st.buf, p.in[i:i+size]...)
			i += size
		}
	}
	return span{}, false
}

var unescape = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// appendUnit appends one UTF-16 code unit from a \u escape to a string being
// decoded since buf[lo]. Text is kept as UTF-8, and a surrogate without its
// partner as its 3-byte WTF-8 form (the generalized UTF-8 encoding of the
// surrogate code point), so two lone surrogates never compare equal to each
// other or to U+FFFD, as in JavaScript. A low surrogate that follows a high
// one, escaped or not, joins it into one 4-byte character, as the two UTF-16
// units would form one character in JavaScript.
func appendUnit(buf []byte, lo int, u rune) []byte {
	if 0xDC00 <= u && u <= 0xDFFF && len(buf)-lo >= 3 {
		t := buf[len(buf)-3:]
		if t[0] == 0xED && t[1]&0xF0 == 0xA0 {
			hi := 0xD000 | rune(t[1]&0x3F)<<6 | rune(t[2]&0x3F)
			return utf8.AppendRune(buf[:len(buf)-3], 0x10000+(hi-0xD800)<<10+(u-0xDC00))
		}
	}
	if 0xD800 <= u && u <= 0xDFFF {
		return append(buf, 0xE0|byte(u>>12), 0x80|byte(u>>6)&0x3F, 0x80|byte(u)&0x3F)
	}
	return utf8.AppendRune(buf, u)
}

// invalidLen returns how many bytes at the start of b, which do not begin a
// valid UTF-8 sequence, one U+FFFD replaces. Node decodes as the WHATWG
// Encoding Standard says: a maximal prefix of a valid sequence counts as one
// error, any other byte as one error each (utf8.DecodeRune would report
// every byte of "\xE2\x82" separately).
func invalidLen(b []byte) int {
	lower, upper := byte(0x80), byte(0xBF)
	need := 0
	switch c := b[0]; {
	case 0xC2 <= c && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lower = 2, 0xA0
	case c == 0xED:
		need, upper = 2, 0x9F
	case 0xE1 <= c && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lower = 3, 0x90
	case c == 0xF4:
		need, upper = 3, 0x8F
	case 0xF1 <= c && c <= 0xF3:
		need = 3
	default:
		return 1
	}
	n := 1
	for ; n <= need && n < len(b); n++ {
		if b[n] < lower || b[n] > upper {
			break
		}
		lower, upper = 0x80, 0xBF
	}
	return n
}
