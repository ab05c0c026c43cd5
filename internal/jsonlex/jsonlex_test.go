package jsonlex

import (
	"math/bits"
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
