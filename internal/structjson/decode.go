package structjson

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"reflect"
	"strconv"
	"sync"
	"unsafe"

	"github.com/msgpattern/msgpattern/internal/jsonlex"
)

// Unmarshal decodes data into v with the result and error json.Unmarshal
// would give.
func Unmarshal(data []byte, v any) error {
	// The fast path may give up half way; starting over is only possible
	// from a zero value, which is what callers decode into nearly always.
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || !rv.Elem().IsZero() {
		return json.Unmarshal(data, v)
	}
	if decodeFast(data, v) {
		return nil
	}
	rv.Elem().SetZero() // undo what the fast path wrote before it gave up
	return json.Unmarshal(data, v)
}

// For returns Unmarshal for values of one type, T's plan looked up once:
// the fastest way to decode many values of a type. The pointer passed to
// it must point to a zero T.
func For[T any]() func(data []byte, v *T) error {
	pl := planFor(reflect.TypeFor[T]())
	if pl == nil {
		return func(data []byte, v *T) error { return json.Unmarshal(data, v) }
	}
	return func(data []byte, v *T) error {
		if pl.run(data, unsafe.Pointer(v)) {
			return nil
		}
		var zero T
		*v = zero
		return json.Unmarshal(data, v)
	}
}

// Numbers decodes data, a JSON array of numbers, into *p, which should be
// nil, and reports whether it did so exactly as encoding/json would
// without error; on false *p is unchanged: use Unmarshal. It is the
// cheapest path for the commonest small input: no pooled state, one
// allocation of the right size, nothing escapes.
func Numbers[N int | int64 | float64](data []byte, p *[]N) bool {
	d := decoder{data: data}
	if !d.consume('[') {
		return false
	}
	var out []N
	if d.consume(']') {
		out = []N{}
	} else {
		n := countElements(data[d.pos:])
		if n == 0 {
			return false
		}
		out = make([]N, n)
		for i := range out {
			if i > 0 && !d.consume(',') {
				return false
			}
			if !d.number1(&out[i]) {
				return false
			}
		}
		if !d.consume(']') {
			return false
		}
	}
	d.skipBlanks()
	if d.pos != len(data) {
		return false
	}
	*p = out
	return true
}

// number1 reads one number into *v, of N's type.
func (d *decoder) number1(v any) bool {
	var ok bool
	switch v := v.(type) {
	case *float64:
		if c := d.peek(); c == '-' || isDigit(c) {
			*v, ok = d.float(64)
		}
	case *int:
		var x int64
		x, ok = d.intValue(strconv.IntSize)
		*v = int(x)
	case *int64:
		*v, ok = d.intValue(64)
	}
	return ok
}

// decodeFast decodes data into v and reports whether it did so exactly as
// encoding/json would without error. On false, *v may be partly written.
func decodeFast(data []byte, v any) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return false
	}
	pl := planFor(rv.Type().Elem())
	return pl != nil && pl.run(data, rv.UnsafePointer())
}

// run decodes data into the value of the plan's type at p, reporting
// whether it did so exactly as encoding/json would without error.
func (pl *plan) run(data []byte, p unsafe.Pointer) bool {
	// Decoders are pooled: passed to plan functions, one would escape and
	// cost an allocation per call; pooled, its scratch and string chunk
	// serve the next decoding too.
	d := decoders.Get().(*decoder)
	d.data, d.pos, d.depth = data, 0, 0
	ok := pl.runWith(d, p)
	d.data = nil
	if cap(d.scratch) > 64<<10 {
		d.scratch = nil // one huge escaped string must not stay pinned
	}
	if cap(d.strs) > 1024 {
		d.strs = nil
	}
	// Unlike the byte arena, the shared string array refers to strings:
	// kept in the pool, it would keep this value's strings alive.
	d.strsBuf = nil
	decoders.Put(d)
	return ok
}

var decoders = sync.Pool{New: func() any { return new(decoder) }}

func (pl *plan) runWith(d *decoder, p unsafe.Pointer) bool {
	switch {
	case pl.impure:
		// A method that is not the standard library's may count, register
		// or intern: encoding/json calls it once per value, and so must
		// this, though it gives up on the document after calling it (a
		// type error, a lone surrogate, a number out of range further on)
		// and encoding/json decodes it all again. So the document is first
		// decoded into a scratch value without calling them (the standard
		// library's, which only set their receiver, are called); only
		// if that is exact are they called, in a second pass.
		d.dry = true
		ok := pl.decodeAll(d, reflect.New(pl.typ).UnsafePointer())
		d.dry, d.pos, d.depth = false, 0, 0
		if !ok {
			return false
		}
	case pl.custom && !d.validDocument():
		// A custom UnmarshalJSON or UnmarshalText must not run on input that
		// encoding/json would reject before decoding anything.
		return false
	}
	return pl.decodeAll(d, p)
}

// decodeAll decodes the whole document into the value at p.
func (pl *plan) decodeAll(d *decoder, p unsafe.Pointer) bool {
	if !pl.decode(d, p) {
		return false
	}
	d.skipBlanks()
	return d.pos == len(d.data)
}

// maxDepth is the deepest nesting the fast path decodes; deeper input goes
// to encoding/json (which allows 10,000), so recursion here stays shallow.
const maxDepth = 512

// decoder is the state of one decoding: the input and the read position.
type decoder struct {
	data    []byte
	pos     int
	depth   int
	dry     bool     // custom methods are not called (runWith)
	scratch []byte   // unescaped strings
	arena   []byte   // see makeString
	strs    []string // decodeStringSlice's scratch list
	strsBuf []string // see carveStrings; dropped after each decoding
}

// skipBlanks moves past JSON white space.
func (d *decoder) skipBlanks() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, 0 at the end.
func (d *decoder) peek() byte {
	if d.pos < len(d.data) && d.data[d.pos] > ' ' {
		return d.data[d.pos] // no white space: the common case, inlined
	}
	return d.peekSlow()
}

func (d *decoder) peekSlow() byte {
	d.skipBlanks()
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

// consume moves past c, the next byte after white space, or reports false.
func (d *decoder) consume(c byte) bool {
	if d.peek() == c {
		d.pos++
		return true
	}
	return false
}

// literal moves past the word w (true, false or null) at the position.
func (d *decoder) literal(w string) bool {
	if len(d.data)-d.pos >= len(w) && string(d.data[d.pos:d.pos+len(w)]) == w {
		d.pos += len(w)
		return true
	}
	return false
}

// null moves past a null at the position (after white space) if there is
// one.
func (d *decoder) null() bool {
	return d.peek() == 'n' && d.literal("null")
}

// enter counts one level of nesting; false when it is too deep.
func (d *decoder) enter() bool {
	d.depth++
	return d.depth <= maxDepth
}

// object reads the object at the position (after white space), handing
// each member's key (unescaped, valid until the next read) to member,
// which reads the value. The callers deal with null.
func (d *decoder) object(member func(key []byte) bool) bool {
	if !d.consume('{') || !d.enter() {
		return false
	}
	if d.consume('}') {
		d.depth--
		return true
	}
	for {
		if d.peek() != '"' {
			return false
		}
		key, ok := d.stringBytes()
		if !ok || !d.consume(':') || !member(key) {
			return false
		}
		if !d.consume(',') {
			d.depth--
			return d.consume('}')
		}
	}
}

// array reads the array at the position (after white space); element reads
// its values, the i-th for i; empty is called for [] instead.
func (d *decoder) array(element func(i int) bool, empty func()) bool {
	if !d.consume('[') || !d.enter() {
		return false
	}
	if d.consume(']') {
		d.depth--
		if empty != nil {
			empty()
		}
		return true
	}
	for i := 0; ; i++ {
		if !element(i) {
			return false
		}
		if !d.consume(',') {
			d.depth--
			return d.consume(']')
		}
	}
}

// stringBytes reads the string at the position (its opening quote) and
// returns its contents, unescaped. The result aliases the input or the
// scratch buffer: use it before the next call.
func (d *decoder) stringBytes() ([]byte, bool) {
	raw, escaped, ok := d.scanString()
	if !ok {
		return nil, false
	}
	if !escaped {
		return raw, true
	}
	d.scratch, ok = unescape(d.scratch[:0], raw)
	return d.scratch, ok
}

// stringValue reads the string at the position as a Go string.
func (d *decoder) stringValue() (string, bool) {
	b, ok := d.stringBytes()
	if !ok {
		return "", false
	}
	return d.makeString(b), true
}

// Short strings are copied into shared chunks of arenaChunk bytes (shared
// by successive decodings too): one allocation for many strings instead of
// one each. The price: a string kept after the decoding keeps its whole
// chunk alive (at most arenaChunk bytes).
const (
	arenaChunk     = 512
	arenaMaxString = 64
)

// makeString copies b into a string.
func (d *decoder) makeString(b []byte) string {
	n := len(b)
	switch {
	case n == 0:
		return ""
	case n > arenaMaxString:
		return string(b)
	case len(d.arena)+n > cap(d.arena):
		d.arena = make([]byte, 0, arenaChunk)
	}
	start := len(d.arena)
	d.arena = append(d.arena, b...)
	// The bytes are never written again: later strings go after them.
	return unsafe.String(&d.arena[start], n)
}

// strsChunk is the length of the backing arrays that carveStrings shares
// among the string slices of one decoding. As with the byte arena, a slice
// kept after the decoding keeps its array alive (at most 32 × 16 bytes and
// the strings it refers to).
const strsChunk = 32

// carveStrings returns a copy of src (an empty one: non-nil, as encoding/json
// makes it) whose capacity is its length, so that appending to it never
// writes into a neighbour's elements.
func (d *decoder) carveStrings(src []string) []string {
	n := len(src)
	switch {
	case n == 0:
		return []string{}
	case n > strsChunk/2:
		return append([]string(nil), src...)
	case len(d.strsBuf)+n > cap(d.strsBuf):
		d.strsBuf = make([]string, 0, strsChunk)
	}
	start := len(d.strsBuf)
	d.strsBuf = append(d.strsBuf, src...)
	return d.strsBuf[start : start+n : start+n]
}

// scanString moves past the string whose opening quote is at the position,
// returning its raw contents and whether they hold escapes. It refuses
// what encoding/json would reject or alter: control characters, bad
// escapes, invalid UTF-8.
func (d *decoder) scanString() (raw []byte, escaped, ok bool) {
	data := d.data
	start := d.pos + 1
	i := start
	for {
		// Eight bytes at a time up to the first that needs a look.
		for i+8 <= len(data) {
			if m := specialBytes(binary.LittleEndian.Uint64(data[i:])); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		if i >= len(data) {
			return nil, false, false
		}
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return data[start:i], escaped, true
		case c == '\\':
			escaped = true
			n := jsonlex.EscapeLen(data[i:])
			if n == 0 {
				return nil, false, false
			}
			i += n
		case c < 0x20:
			return nil, false, false
		case c < 0x80:
			i++
		default:
			n := validRuneLen(data[i:])
			if n == 0 {
				return nil, false, false // encoding/json would substitute U+FFFD
			}
			i += n
		}
	}
}

const highs = jsonlex.Highs

// specialBytes marks (with its high bit) each byte of w, read little-endian,
// that is a quote, a backslash, a control character or not ASCII. Marks
// above the lowest may be false (borrows), the lowest is always right.
func specialBytes(w uint64) uint64 { return jsonlex.StringStops(w) | w&highs }

// validRuneLen is the length of the valid UTF-8 sequence (2–4 bytes) at the
// start of b, 0 if there is none.
func validRuneLen(b []byte) int {
	c := b[0]
	switch {
	case c >= 0xC2 && c <= 0xDF:
		if len(b) >= 2 && cont(b[1]) {
			return 2
		}
	case c >= 0xE0 && c <= 0xEF:
		if len(b) >= 3 && cont(b[1]) && cont(b[2]) {
			if (c == 0xE0 && b[1] < 0xA0) || (c == 0xED && b[1] > 0x9F) {
				return 0 // overlong, or a surrogate
			}
			return 3
		}
	case c >= 0xF0 && c <= 0xF4:
		if len(b) >= 4 && cont(b[1]) && cont(b[2]) && cont(b[3]) {
			if (c == 0xF0 && b[1] < 0x90) || (c == 0xF4 && b[1] > 0x8F) {
				return 0 // overlong, or above U+10FFFF
			}
			return 4
		}
	}
	return 0
}

func cont(c byte) bool { return c&0xC0 == 0x80 }

// unescape appends the unescaped contents of raw (already validated by
// scanString) to dst. A lone surrogate is refused: encoding/json turns it
// into U+FFFD.
func unescape(dst, raw []byte) ([]byte, bool) {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		switch raw[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := jsonlex.Hex4(raw[i+2:]) // valid: scanString checked
			i += 6
			if r >= 0xD800 && r < 0xE000 {
				if r >= 0xDC00 || i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
					return dst, false
				}
				lo, _ := jsonlex.Hex4(raw[i+2:])
				if lo < 0xDC00 || lo >= 0xE000 {
					return dst, false
				}
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
				i += 6
			}
			dst = appendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, raw[i+1])
		}
		i += 2
	}
	return dst, true
}

func appendRune(dst []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(dst, byte(r))
	case r < 0x800:
		return append(dst, 0xC0|byte(r>>6), 0x80|byte(r)&0x3F)
	case r < 0x10000:
		return append(dst, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	default:
		return append(dst, 0xF0|byte(r>>18), 0x80|byte(r>>12)&0x3F, 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	}
}

// number moves past the number at the position and returns its text, and
// whether it is an integer (no fraction, no exponent). It follows JSON's
// grammar exactly.
func (d *decoder) number() (text []byte, integer, ok bool) {
	data, i := d.data, d.pos
	start := i
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	default:
		return nil, false, false
	}
	integer = true
	if i < len(data) && data[i] == '.' {
		integer = false
		i++
		if i >= len(data) || !isDigit(data[i]) {
			return nil, false, false
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		integer = false
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			return nil, false, false
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	d.pos = i
	return data[start:i], integer, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// skip moves past one value of any kind, validating it.
func (d *decoder) skip() bool {
	switch d.peek() {
	case '"':
		_, _, ok := d.scanString()
		return ok
	case '{':
		return d.object(func([]byte) bool { return d.skip() })
	case '[':
		return d.array(func(int) bool { return d.skip() }, nil)
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	default:
		_, _, ok := d.number()
		return ok
	}
}

// validDocument reports whether the whole input is one valid JSON value
// (which encoding/json checks before decoding anything), leaving the
// position where it was.
func (d *decoder) validDocument() bool {
	save := *d
	ok := d.skip() && d.peek() == 0 && d.pos == len(d.data)
	*d = save
	return ok
}

// unsafeString views b as a string for a call that does not keep it.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
