package textclip

import "testing"

func TestClip(t *testing.T) {
	for _, tt := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 8, "short"},
		{"exactly8", 8, "exactly8"},
		{"ninechars", 8, "ninechar…(9 bytes)"},
		{"aé", 2, "a…(3 bytes)"}, // not in the middle of é
		{"ééé", 4, "éé…(6 bytes)"},
	} {
		if got := Clip(tt.in, tt.max); got != tt.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
		if got := Clip([]byte(tt.in), tt.max); got != tt.want {
			t.Errorf("Clip([]byte(%q), %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
