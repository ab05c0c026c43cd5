package wire

import (
	"errors"
	"testing"
)

// TestLengthUnicodeBlanksAsParseInt: docs/PROTOCOL.md says "The length is
// parsed as parseInt parses it: leading blanks and a + are accepted".
// parseInt trims every ECMAScript WhiteSpace/LineTerminator, not just ASCII:
// U+FEFF (BOM), U+00A0, U+2028… Measured with NestJS 10.4.22 and 12.1.1's
// JsonSocket: the bytes "\uFEFF2#{}\u00A02#[]" give two messages, {} and [].
// (Only the scanner is checked: the first byte of a connection is sniffed
// as ASCII, see docs/SERVER.md.)
func TestLengthUnicodeBlanksAsParseInt(t *testing.T) {
	blanks := []string{
		"\uFEFF", "\u00A0", "\u1680", "\u2000", "\u2005", "\u200A", "\u2028", "\u2029",
		"\u202F", "\u205F", "\u3000", " \u00A0\t\u3000\n",
	}
	for _, b := range blanks {
		for _, in := range []string{b + "2#{}", b + "+2#{}"} {
			var s FrameScanner
			f, err := s.Scan([]byte(in))
			if err != nil || string(f.Body) != "{}" || f.Len != len(in) {
				t.Errorf("%q: got body %q (len %d), err %v; NestJS reads the frame {}", in, f.Body, f.Len, err)
			}
		}
	}
	// Not blanks for parseInt: NaN, so the length is corrupt.
	for _, in := range []string{"\u200B2#{}", "\u180E2#{}", "\u00852#{}", "\uFFFD2#{}", "\xA02#{}", "+\u00A02#{}"} {
		var s FrameScanner
		if _, err := s.Scan([]byte(in)); !errors.Is(err, ErrCorruptLength) {
			t.Errorf("%q: err %v, want ErrCorruptLength", in, err)
		}
	}
}

// TestLengthUnicodeBlankSplitAcrossReads: a multi-byte blank cut by a read
// makes the scanner wait for the rest, as node's StringDecoder does.
func TestLengthUnicodeBlankSplitAcrossReads(t *testing.T) {
	in := []byte("\u3000\uFEFF2#{}\u00A02#[]")
	for cut := 1; cut < 7; cut++ { // inside the first blank, between them, inside the second
		var s FrameScanner
		f, err := s.Scan(in[:cut])
		if err != nil || f.Len != 0 {
			t.Fatalf("cut %d: first read gave %+v, %v; want to wait for more", cut, f, err)
		}
		f, err = s.Scan(in)
		if err != nil || string(f.Body) != "{}" {
			t.Fatalf("cut %d: got body %q, err %v; want {}", cut, f.Body, err)
		}
		rest := in[f.Len:]
		f, err = s.Scan(rest[:1]) // the second frame's blank, cut after its first byte
		if err != nil || f.Len != 0 {
			t.Fatalf("cut %d: second frame's first byte gave %+v, %v", cut, f, err)
		}
		f, err = s.Scan(rest)
		if err != nil || string(f.Body) != "[]" || f.Len != len(rest) {
			t.Fatalf("cut %d: second frame: body %q, err %v; want []", cut, f.Body, err)
		}
	}
}
