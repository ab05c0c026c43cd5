package jsonlex

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strconv"
	"testing"
)

func TestStringStops(t *testing.T) {
	for _, tt := range []struct {
		in    string
		first int // index of the first stop byte, 8 for none
	}{
		{"abcdefgh", 8},
		{`abc"efgh`, 3},
		{`\bcdefgh`, 0},
		{"abcdefg\x1f", 7},
		{"ab\x00defgh", 2},
		{"é€abcde", 8}, // UTF-8 is plain content
		{" !#$%&'(", 8},
		{"\x7f\x80\xff[]{}~", 8},
	} {
		var w uint64
		for i := 7; i >= 0; i-- {
			w = w<<8 | uint64(tt.in[i])
		}
		got := bits.TrailingZeros64(StringStops(w)) / 8
		if got != tt.first {
			t.Errorf("StringStops(%q): first stop at %d, want %d", tt.in, got, tt.first)
		}
	}
}

func TestEscapeLen(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{
		{`\n`, 2}, {`\"x`, 2}, {`\/`, 2}, {`\u00e9`, 6}, {`\uD83Dx`, 6}, {`\uABcd`, 6},
		{`\`, 0}, {`\x`, 0}, {`\u12`, 0}, {`\u12g4`, 0}, {`\U0041`, 0},
	} {
		if got := EscapeLen([]byte(tt.in)); got != tt.want {
			t.Errorf("EscapeLen(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
	if r, ok := Hex4([]byte("00e9")); !ok || r != 0xe9 {
		t.Errorf("Hex4(00e9) = %x, %v", r, ok)
	}
}

// FuzzLex checks StringStops, EscapeLen and Hex4 against byte-at-a-time
// references at every offset of the input: the unit tests pin a few words,
// and a wrong mark (a borrow from a byte above, a UTF-8 byte marked) would
// make all three scanners stop short or run past a quote.
func FuzzLex(f *testing.F) {
	f.Add([]byte(`abc"efgh\bcdefgh`))
	f.Add([]byte("\x1f\x20\x21\x22\x5b\x5c\x5d\x7f\x80\xff!!!!!!!!"))
	f.Add([]byte(`\u00e9\uD83D\u12g4\U0041\/\x\`))
	f.Add([]byte("\x00\x01#\"\\\xa2\xdc\x1f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for i := 0; i+8 <= len(b); i++ {
			want := 8
			for j, c := range b[i : i+8] {
				if c == '"' || c == '\\' || c < 0x20 {
					want = j
					break
				}
			}
			w := binary.LittleEndian.Uint64(b[i:])
			m := StringStops(w)
			if got := bits.TrailingZeros64(m) / 8; got != want {
				t.Fatalf("StringStops(%q) = %#x: first stop at %d, want %d", b[i:i+8], m, got, want)
			}
		}
		for i := range b {
			if b[i] != '\\' {
				continue
			}
			want := 0
			if i+1 < len(b) && bytes.IndexByte([]byte(`"\/bfnrt`), b[i+1]) >= 0 {
				want = 2
			} else if i+1 < len(b) && b[i+1] == 'u' && i+6 <= len(b) {
				if r, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 32); err == nil {
					want = 6
					if got, ok := Hex4(b[i+2:]); !ok || got != rune(r) {
						t.Fatalf("Hex4(%q) = %x, %t; want %x", b[i+2:i+6], got, ok, r)
					}
				}
			}
			if got := EscapeLen(b[i:]); got != want {
				t.Fatalf("EscapeLen(%q) = %d, want %d", b[i:], got, want)
			}
		}
	})
}
