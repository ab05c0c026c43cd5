package wire_test

import (
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/msgpattern/msgpattern/wire"
)

// unitsCorpus is valid UTF-8 whose non-ASCII characters fall at every
// offset of the 8-byte words Units reads at once.
var unitsCorpus = func() []string {
	c := append([]string{}, stringCorpus...)
	for _, ch := range []string{"é", "中", "😀", "\U0010FFFF", "\u2028"} {
		for off := 0; off < 17; off++ {
			c = append(c, strings.Repeat("a", off)+ch+strings.Repeat("b", 17-off))
		}
		c = append(c, strings.Repeat(ch, 33))
	}
	for _, tt := range utf16Tests {
		if !tt.invalid {
			c = append(c, tt.text)
		}
	}
	return c
}()

// TestUnits compares Units with the standard library's UTF-16 encoder.
func TestUnits(t *testing.T) {
	t.Parallel()
	for _, s := range unitsCorpus {
		want := len(utf16.Encode([]rune(s)))
		sum := 0
		for _, r := range s {
			sum += utf16.RuneLen(r)
		}
		if sum != want {
			t.Fatalf("utf16.RuneLen sum %d != len(utf16.Encode) %d for %q", sum, want, s)
		}
		if got := wire.Units([]byte(s)); got != want {
			t.Errorf("Units(%q) = %d, want %d", s, got, want)
		}
	}
}

// TestSanitizeUTF8 checks the replacement text against the reference
// decoder, for every row of the UTF-16 table and for the same rows
// embedded in ASCII.
func TestSanitizeUTF8(t *testing.T) {
	t.Parallel()
	for _, tt := range utf16Tests {
		for _, in := range []string{tt.text, "<" + tt.text + ">", tt.text + tt.text} {
			_, want, _ := refDecode([]byte(in))
			got := wire.SanitizeUTF8([]byte("kept"), []byte(in))
			if n := wire.SanitizedLen([]byte(in)); n != len(want) {
				t.Errorf("%s: SanitizedLen(%q) = %d, want %d", tt.name, in, n, len(want))
			}
			if string(got) != "kept"+string(want) {
				t.Errorf("%s: SanitizeUTF8(%q) = %q, want %q", tt.name, in, got[4:], want)
			}
			if !utf8.Valid(got) {
				t.Errorf("%s: SanitizeUTF8(%q) = %q is not valid UTF-8", tt.name, in, got[4:])
			}
		}
	}
	// Spot checks written out by hand.
	for in, want := range map[string]string{
		"\xE0\x80\x80":      "\uFFFD\uFFFD\uFFFD",
		"\xE2\x82A":         "\uFFFDA",
		"\xF0\x9F\x98":      "\uFFFD",
		"\xED\xA0\x80":      "\uFFFD\uFFFD\uFFFD",
		"a\xF4\x90\x80\x80": "a\uFFFD\uFFFD\uFFFD\uFFFD",
		"héllo 😀":           "héllo 😀",
	} {
		if got := wire.SanitizeUTF8(nil, []byte(in)); string(got) != want {
			t.Errorf("SanitizeUTF8(%q) = %q, want %q", in, got, want)
		}
	}
}
