package pattern_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/pattern"
)

// The cost of routing an object pattern must grow with the total length of
// its keys, not with the number of key comparisons times the key length: a
// peer chooses the keys, and routing runs before any handler or limit.

// sortWorstCase returns an object pattern of 20 keys that share a prefix of
// n copies of unit and are in reverse route order, so that the stable sort
// compares every pair (190 comparisons), each over the whole prefix.
func sortWorstCase(unit string, n int) []byte {
	var b strings.Builder
	b.WriteByte('{')
	for i := range 20 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"%s%c":1`, strings.Repeat(unit, n), 'z'-i)
	}
	b.WriteByte('}')
	return []byte(b.String())
}

// BenchmarkRouteSortedKeys reports the cost per byte of pattern of routing
// such objects; ns/B is the figure to watch.
func BenchmarkRouteSortedKeys(b *testing.B) {
	for _, bb := range []struct {
		name string
		unit string
	}{
		{"hangul", "가"},
		{"latin", "é"},
		{"ascii", "a"},
	} {
		for _, n := range []int{16, 1024} {
			b.Run(fmt.Sprintf("%s/prefix=%d", bb.name, n), func(b *testing.B) {
				raw := sortWorstCase(bb.unit, n)
				scratch := make([]byte, 0, 2*len(raw))
				b.ReportAllocs()
				b.SetBytes(int64(len(raw)))
				for b.Loop() {
					if _, ok := pattern.Route(raw, scratch); !ok {
						b.Fatal("not routed")
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(raw)), "ns/B")
			})
		}
	}
}

// TestRouteSortCostLinear checks that routing 20 long Hangul keys in
// reverse order costs little per byte. Unfixed, each comparison ran the
// collator over both keys: about 3.5 µs per byte. The bound is loose (a
// slow, loaded or instrumented machine passes); the point is the order of
// magnitude.
func TestRouteSortCostLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	raw := sortWorstCase("가", 4096) // about 250 KB
	want := sortedRoute("가", 4096)
	scratch := make([]byte, 0, 2*len(raw))
	best := time.Duration(1<<63 - 1)
	for range 3 {
		start := time.Now()
		got, ok := pattern.Route(raw, scratch)
		best = min(best, time.Since(start))
		if !ok || string(got) != want {
			t.Fatalf("Route gave %.60q..., %v; want %.60q...", got, ok, want)
		}
	}
	perByte := best / time.Duration(len(raw))
	t.Logf("%d bytes routed in %v: %v per byte", len(raw), best, perByte)
	limit := time.Microsecond
	if raceEnabled {
		limit *= 10
	}
	if perByte > limit {
		t.Errorf("routing 20 long Hangul keys costs %v per byte; want under %v", perByte, limit)
	}
}

// sortedRoute is the route of sortWorstCase(unit, n): the keys in
// ascending order of their last letter.
func sortedRoute(unit string, n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 19; i >= 0; i-- {
		fmt.Fprintf(&b, `"%s%c":1`, strings.Repeat(unit, n), 'z'-i)
		if i > 0 {
			b.WriteByte(',')
		}
	}
	b.WriteByte('}')
	return b.String()
}
