package pattern_test

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/pattern"
)

var numberTests = []struct {
	f    float64
	want string
}{
	{0, "0"},
	{math.Copysign(0, -1), "0"},
	{1, "1"},
	{-1, "-1"},
	{42, "42"},
	{4.5, "4.5"},
	{0.1, "0.1"},
	{0.30000000000000004, "0.30000000000000004"},
	{1.0 / 3, "0.3333333333333333"},
	{100, "100"},
	{1e20, "100000000000000000000"},
	{1e21, "1e+21"},
	{9.999999999999999e20, "999999999999999900000"},
	{123456789012345680000, "123456789012345680000"},
	{1.5e300, "1.5e+300"},
	{-1.5e300, "-1.5e+300"},
	{1e-6, "0.000001"},
	{1.5e-6, "0.0000015"},
	{1e-7, "1e-7"},
	{-1.5e-7, "-1.5e-7"},
	{123e-20, "1.23e-18"},
	{5e-324, "5e-324"},
	{math.MaxFloat64, "1.7976931348623157e+308"},
	{1 << 53, "9007199254740992"},
	{12345678.9, "12345678.9"},
	{math.NaN(), "NaN"},
	{math.Inf(1), "Infinity"},
	{math.Inf(-1), "-Infinity"},
}

func TestFormatNumber(t *testing.T) {
	t.Parallel()
	for _, tt := range numberTests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			if got := pattern.FormatNumber(tt.f); got != tt.want {
				t.Errorf("FormatNumber(%v) = %q; want %q", tt.f, got, tt.want)
			}
			if got := pattern.AppendNumber([]byte("x"), tt.f); string(got) != "x"+tt.want {
				t.Errorf("AppendNumber(\"x\", %v) = %q; want %q", tt.f, got, "x"+tt.want)
			}
		})
	}
}

// TestFormatNumberGolden replays testdata/numbers.txt: String(x) in Node for
// random doubles (testdata/gen.mjs).
func TestFormatNumberGolden(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join("testdata", "numbers.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		bits, want, ok := strings.Cut(sc.Text(), "\t")
		u, err := strconv.ParseUint(bits, 16, 64)
		if !ok || err != nil {
			t.Fatalf("line %d: %q", n, sc.Text())
		}
		x := math.Float64frombits(u)
		if got := pattern.FormatNumber(x); got != want {
			t.Errorf("line %d: FormatNumber(%b) = %q; want %q", n, x, got, want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestAppendNumberAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = pattern.AppendNumber(buf[:0], 1.2345e-200) }); n != 0 {
		t.Errorf("AppendNumber allocates %v times per call; want 0", n)
	}
}
