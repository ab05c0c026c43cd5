package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/bits"

	"github.com/msgpattern/msgpattern/internal/jsonlex"
)

// DefaultMaxDepth is the deepest nesting of arrays and objects that
// [ParseRequest] accepts. JSON.parse goes deeper, but nothing legitimate
// does, and every level costs a handler that decodes the data.
const DefaultMaxDepth = 1000

// NoDepthLimit, as a maxDepth, accepts any nesting, as JSON.parse does. The
// scanner does not recurse, so depth costs no stack and the frame's size
// bounds the work: a client reads replies so, as a NestJS client takes a
// deep reply its server sent (a server's request limit is its own policy).
const NoDepthLimit = math.MaxInt

// JSON errors reported by [ParseRequest], [ParseReply] and [Valid].
var (
	ErrSyntax   = errors.New("wire: invalid JSON")
	ErrTooDeep  = errors.New("wire: JSON nested too deeply")
	ErrNotEnded = errors.New("wire: unexpected end of JSON input")
)

// scanClass marks the bytes that end a run of plain string content.
var stringStop = [256]bool{'"': true, '\\': true}

func init() {
	for c := 0; c < 0x20; c++ {
		stringStop[c] = true
	}
}

// SWAR constants, shared with the module's other JSON scanners.
const (
	ones  = jsonlex.Ones
	highs = jsonlex.Highs
)

func skipBlanks(b []byte, i int) int {
	if i < len(b) && b[i] > ' ' {
		return i // no blank: the common case, inlined
	}
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString validates the string starting at b[i] == '"' and returns the
// offset after its closing quote, and whether it holds escapes.
func scanString(b []byte, i int) (end int, escaped bool, err error) {
	i++
	quote := -1 // the next '"' at or after i, once skipLong has looked
	for {
		// Eight bytes at a time up to the first that ends plain content;
		// after 32 plain bytes the string is a long one: skipLong.
		for n := 0; i+8 <= len(b); n++ {
			if m := jsonlex.StringStops(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
			if n == 3 {
				i, quote = skipLong(b, i, quote)
				break
			}
		}
		for i < len(b) && !stringStop[b[i]] {
			i++ // the last few bytes
		}
		if i >= len(b) {
			return 0, false, ErrNotEnded
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return 0, false, ErrNotEnded
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return 0, false, ErrNotEnded
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return 0, false, ErrSyntax
					}
				}
				i += 6
			default:
				return 0, false, ErrSyntax
			}
		default: // a control character
			return 0, false, ErrSyntax
		}
	}
}

// skipLong returns the offset of the first byte at or after i that ends
// plain string content (len(b) if none), for long strings: the quote and
// the backslash are found by bytes.IndexByte (vectorized), control
// characters looked for only before them. quote is the offset of a '"' at
// or after i found before, or less than i; the one found is returned, so
// that a string of many escapes is not searched to its end again at each.
func skipLong(b []byte, i, quote int) (stop, nextQuote int) {
	if quote < i {
		if quote = bytes.IndexByte(b[i:], '"'); quote < 0 {
			quote = len(b)
		} else {
			quote += i
		}
	}
	stop = quote
	if k := bytes.IndexByte(b[i:stop], '\\'); k >= 0 {
		stop = i + k
	}
	if k := controlIndex(b[i:stop]); k >= 0 {
		stop = i + k
	}
	return stop, quote
}

// controlIndex is the index of the first byte below 0x20 in b, or -1.
func controlIndex(b []byte) int {
	rest := b // advanced 32 bytes at a time: no bounds checks (see asciiRun)
	for len(rest) >= 32 {
		w0, w1 := binary.LittleEndian.Uint64(rest[0:8]), binary.LittleEndian.Uint64(rest[8:16])
		w2, w3 := binary.LittleEndian.Uint64(rest[16:24]), binary.LittleEndian.Uint64(rest[24:32])
		// A byte below 0x20 borrows into its high bit; bytes of 0x80 and
		// up are masked out by &^ w.
		if ((w0-ones*0x20)&^w0|(w1-ones*0x20)&^w1|(w2-ones*0x20)&^w2|(w3-ones*0x20)&^w3)&highs != 0 {
			break
		}
		rest = rest[32:]
	}
	for i := len(b) - len(rest); i < len(b); i++ {
		if b[i] < 0x20 {
			return i
		}
	}
	return -1
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber validates a JSON number starting at b[i].
func scanNumber(b []byte, i int) (int, error) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return 0, ErrNotEnded
	case b[i] == '0':
		i++
	case isDigit(b[i]):
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return 0, ErrSyntax
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return 0, ErrSyntax
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
			return 0, ErrSyntax
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

func scanLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) {
		return 0, ErrNotEnded
	}
	if string(b[i:i+len(lit)]) != lit {
		return 0, ErrSyntax
	}
	return i + len(lit), nil
}

// depthStack records, for each open container, whether it is an object.
// The first 256 levels live in the struct itself, so common input costs no
// allocation.
type depthStack struct {
	inline [4]uint64
	more   []uint64
	n      int
}

func (s *depthStack) push(object bool) {
	w, bit := s.n/64, uint(s.n%64)
	if w >= len(s.inline) {
		for len(s.more) <= w-len(s.inline) {
			s.more = append(s.more, 0)
		}
	}
	word := s.word(w)
	if object {
		*word |= 1 << bit
	} else {
		*word &^= 1 << bit
	}
	s.n++
}

func (s *depthStack) word(w int) *uint64 {
	if w < len(s.inline) {
		return &s.inline[w]
	}
	return &s.more[w-len(s.inline)]
}

func (s *depthStack) pop() { s.n-- }

func (s *depthStack) topIsObject() bool {
	w, bit := (s.n-1)/64, uint((s.n-1)%64)
	return *s.word(w)&(1<<bit) != 0
}

// skipValue validates the JSON value starting at or after b[i] (blanks
// allowed) and returns the offset just after it. depth is the nesting of the
// value's container; maxDepth bounds it. It never recurses, so hostile
// nesting costs no stack.
func skipValue(b []byte, i, depth, maxDepth int) (int, error) {
	var stack depthStack
	var err error
	for {
		// A value is expected at i.
		i = skipBlanks(b, i)
		if i >= len(b) {
			return 0, ErrNotEnded
		}
		closed := false // the value just scanned is complete
		switch c := b[i]; c {
		case '{', '[':
			if depth+stack.n+1 > maxDepth {
				return 0, ErrTooDeep
			}
			stack.push(c == '{')
			i = skipBlanks(b, i+1)
			if i >= len(b) {
				return 0, ErrNotEnded
			}
			if (c == '{' && b[i] == '}') || (c == '[' && b[i] == ']') {
				stack.pop()
				i++
				closed = true
			} else if c == '{' {
				if i, err = scanKey(b, i); err != nil {
					return 0, err
				}
			}
		case '"':
			if i, _, err = scanString(b, i); err != nil {
				return 0, err
			}
			closed = true
		case 't':
			i, err = scanLiteral(b, i, "true")
			closed = true
		case 'f':
			i, err = scanLiteral(b, i, "false")
			closed = true
		case 'n':
			i, err = scanLiteral(b, i, "null")
			closed = true
		default:
			i, err = scanNumber(b, i)
			closed = true
		}
		if err != nil {
			return 0, err
		}
		// After a complete value: close containers or move to the next member.
		for closed {
			if stack.n == 0 {
				return i, nil
			}
			i = skipBlanks(b, i)
			if i >= len(b) {
				return 0, ErrNotEnded
			}
			obj := stack.topIsObject()
			switch {
			case b[i] == ',':
				i++
				if obj {
					if i, err = scanKey(b, skipBlanks(b, i)); err != nil {
						return 0, err
					}
				}
				closed = false
			case obj && b[i] == '}' || !obj && b[i] == ']':
				stack.pop()
				i++
			default:
				return 0, ErrSyntax
			}
		}
	}
}

// scanKey validates `"key" :` at b[i] and returns the offset after the colon.
func scanKey(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, ErrNotEnded
	}
	if b[i] != '"' {
		return 0, ErrSyntax
	}
	i, _, err := scanString(b, i)
	if err != nil {
		return 0, err
	}
	i = skipBlanks(b, i)
	if i >= len(b) {
		return 0, ErrNotEnded
	}
	if b[i] != ':' {
		return 0, ErrSyntax
	}
	return i + 1, nil
}

// Valid reports whether b is one JSON value (blanks around it allowed)
// nested no deeper than maxDepth.
func Valid(b []byte, maxDepth int) error {
	i, err := skipValue(b, 0, 0, maxDepth)
	if err != nil {
		return err
	}
	if skipBlanks(b, i) != len(b) {
		return ErrSyntax
	}
	return nil
}
