package pattern

import (
	"bytes"
	"math"
	"strconv"
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
	// tooDeep records that parsing stopped at maxNesting.
	tooDeep bool

	maxDepth, maxKeys int32
}

// parse parses the whole input as one JSON value and returns its index in
// st.values. ok is false when the input is not exactly one valid JSON value,
// nests deeper than maxNesting or is 2 GiB long.
func (p *parser) parse() (root int32, ok bool) {
	if len(p.in) > math.MaxInt32 {
		return -1, false // spans are int32
	}
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
				p.tooDeep = true
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
