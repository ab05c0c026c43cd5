package structjson

import (
	"runtime"
	"strings"
	"testing"
)

// allocatedBy reports the bytes f allocates.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestPresizeSkipsEmptyElements: an array of numbers is presized by
// counting its elements; "[,,,,…]" (not JSON) used to count as one element
// per comma, 8 bytes allocated per input byte, twice the most a valid array
// of numbers can need (about 4, the figure docs/SERVER.md states), and
// rpc.Typed[[]float64] did it twice: 256 MiB for a 16 MiB frame of commas
// before the caller got "invalid data".
func TestPresizeSkipsEmptyElements(t *testing.T) {
	const n = 1 << 20
	commas := []byte("[" + strings.Repeat(",", n) + "]")
	perByte := func(b uint64) float64 { return float64(b) / float64(len(commas)) }

	var xs []float64
	if got := perByte(allocatedBy(func() { Numbers(commas, &xs) })); got > 4.5 {
		t.Errorf("Numbers on %d commas: %.1f bytes allocated per input byte, want <= 4.5 (a valid array's worst case)", n, got)
	}
	var ys []float64
	if got := perByte(allocatedBy(func() { _ = For[[]float64]()(commas, &ys) })); got > 4.5 {
		t.Errorf("For[[]float64] on %d commas: %.1f bytes allocated per input byte, want <= 4.5", n, got)
	}
	type withInts struct{ A []int64 }
	var s withInts
	doc := append(append([]byte(`{"A":`), commas...), '}')
	if got := perByte(allocatedBy(func() { _ = Unmarshal(doc, &s) })); got > 4.5 {
		t.Errorf("struct{A []int64} on %d commas: %.1f bytes allocated per input byte, want <= 4.5", n, got)
	}
}
