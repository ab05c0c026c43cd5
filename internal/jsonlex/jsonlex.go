// Package jsonlex holds the lexical pieces of JSON that the module's three
// scanners share — the envelope parser (package wire), the pattern
// normalizer (package pattern) and the typed-data decoder
// (internal/structjson): the word-at-a-time test for bytes that end plain
// string content, and the validation of escapes.
package jsonlex

// SWAR constants: one in every byte, and the high bit of every byte.
const (
	Ones  = 0x0101010101010101
	Highs = 0x8080808080808080
)

// StringStops marks with its high bit each byte of w (read little-endian)
// that ends plain string content: a '"', a '\\' or a control character
// (below 0x20). Bytes of 0x80 and up (UTF-8) are not marked. Marks above
// the lowest may be wrong (borrows); the lowest is exact, so
// bits.TrailingZeros64(m)/8 is the index of the first such byte.
func StringStops(w uint64) uint64 {
	q := w ^ (Ones * '"')
	s := w ^ (Ones * '\\')
	zeroQ := (q - Ones) &^ q
	zeroS := (s - Ones) &^ s
	less := (w - Ones*0x20) &^ w // a byte below 0x20 borrows into its high bit
	return (zeroQ | zeroS | less) & Highs
}

// EscapeLen is the length of the valid escape sequence at the start of b
// (which starts with the backslash), 0 if it is not one or is cut short.
func EscapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if _, ok := Hex4(b[2:]); ok {
			return 6
		}
	}
	return 0
}

// Hex4 decodes the four hex digits of a \u escape at the start of b.
func Hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
