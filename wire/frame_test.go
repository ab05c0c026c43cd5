package wire_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/msgpattern/msgpattern/wire"
)

// Frames captured from real NestJS servers (../rpc/testdata/server-v*.txt).
const (
	sumBody  = `{"pattern":"sum","data":[1,2],"id":"id-sum"}`
	sumFrame = `44#` + sumBody
	// The capture's frame with "héllo 😀": 53 bytes but 50 UTF-16 units.
	uniBody  = `{"pattern":"echo","data":"héllo 😀","id":"id-uni"}`
	uniFrame = `50#` + uniBody
)

// fr is the frame a scanner should report for header+body.
func fr(header, body string) gotFrame {
	return gotFrame{Body: body, Len: len(header) + len(body), Invalid: !utf8.ValidString(body)}
}

type frameTest struct {
	name string
	in   string
	max  int // FrameScanner.MaxUnits
	want []gotFrame
	err  error
	rest int // bytes of an incomplete frame left at the end
}

var frameTests = []frameTest{
	{name: "sum request", in: sumFrame, want: []gotFrame{fr("44#", sumBody)}},
	{
		name: "three frames in one write",
		in:   `37#{"pattern":"sum","data":[1],"id":"a"}37#{"pattern":"sum","data":[2],"id":"b"}37#{"pattern":"sum","data":[3],"id":"c"}`,
		want: []gotFrame{
			fr("37#", `{"pattern":"sum","data":[1],"id":"a"}`),
			fr("37#", `{"pattern":"sum","data":[2],"id":"b"}`),
			fr("37#", `{"pattern":"sum","data":[3],"id":"c"}`),
		},
	},
	{
		name: "obs3 reply stream",
		in:   `29#{"response":1,"id":"id-obs3"}29#{"response":2,"id":"id-obs3"}47#{"response":3,"isDisposed":true,"id":"id-obs3"}`,
		want: []gotFrame{
			fr("29#", `{"response":1,"id":"id-obs3"}`),
			fr("29#", `{"response":2,"id":"id-obs3"}`),
			fr("47#", `{"response":3,"isDisposed":true,"id":"id-obs3"}`),
		},
	},
	{name: "unicode capture", in: uniFrame, want: []gotFrame{fr("50#", uniBody)}},
	{
		name: "unicode reply",
		in:   `55#{"response":"héllo 😀","isDisposed":true,"id":"id-uni"}`,
		want: []gotFrame{fr("55#", `{"response":"héllo 😀","isDisposed":true,"id":"id-uni"}`)},
	},
	{
		name: "Nest codec test bodies",
		in:   `5#12.344#true9#["yes",9]13#"Hello there"`,
		want: []gotFrame{fr("5#", "12.34"), fr("4#", "true"), fr("9#", `["yes",9]`), fr("13#", `"Hello there"`)},
	},
	{name: "empty body", in: "0#", want: []gotFrame{fr("0#", "")}},
	{name: "empty bodies back to back", in: "0#0#2#{}", want: []gotFrame{fr("0#", ""), fr("0#", ""), fr("2#", "{}")}},
	{name: "incomplete header", in: "44", rest: 2},
	{name: "incomplete body", in: `44#{"pattern"`, rest: 13},
	{name: "frame then incomplete header", in: sumFrame + "4", want: []gotFrame{fr("44#", sumBody)}, rest: 1},
	{name: "frame then incomplete body", in: sumFrame + "6#{", want: []gotFrame{fr("44#", sumBody)}, rest: 3},
	{name: "incomplete multi-byte char at end", in: "2#a\xF0\x9F\x98", rest: 6},

	// The length prefix is read as parseInt reads it.
	{name: "parseInt blanks and garbage (capture)", in: "  3xyz#{}  ", want: []gotFrame{fr("  3xyz#", "{} ")}, rest: 1},
	{name: "plus sign", in: "+5#hello", want: []gotFrame{fr("+5#", "hello")}},
	{name: "garbage after digits", in: "3abc#[1]", want: []gotFrame{fr("3abc#", "[1]")}},
	{name: "leading space", in: " 3#[1]", want: []gotFrame{fr(" 3#", "[1]")}},
	{name: "every ASCII blank parseInt skips", in: "\t\n\v\f\r 2#{}", want: []gotFrame{fr("\t\n\v\f\r 2#", "{}")}},
	{name: "leading zeros", in: `007#"hello"`, want: []gotFrame{fr("007#", `"hello"`)}},
	{name: "decimal point is garbage", in: "5.9#hello", want: []gotFrame{fr("5.9#", "hello")}},
	{name: "exponent is garbage", in: "5e3#hello", want: []gotFrame{fr("5e3#", "hello")}},
	{name: "header of 32 bytes ending in #", in: "1" + strings.Repeat(" ", 30) + "#x", want: []gotFrame{fr("1"+strings.Repeat(" ", 30)+"#", "x")}},
	{name: "31 bytes without # yet", in: strings.Repeat("1", 31), rest: 31},

	// A length in bytes instead of units swallows the start of the next
	// frame, whose remains are then not a frame at all (the capture's
	// "unicode echo with length = UTF-8 BYTE length").
	{
		name: "byte length instead of units",
		in:   `55#{"pattern":"echo","data":"héllo 😀","id":"id-bytes"}46#{"pattern":"sum","data":[1,2],"id":"id-after"}`,
		want: []gotFrame{fr("55#", `{"pattern":"echo","data":"héllo 😀","id":"id-bytes"}46#`)},
		err:  wire.ErrCorruptLength,
	},

	// Corrupt prefixes.
	{name: "letters (capture)", in: "abc#{}", err: wire.ErrCorruptLength},
	{name: "no digits", in: "#{}", err: wire.ErrCorruptLength},
	{name: "blanks only", in: "  #{}", err: wire.ErrCorruptLength},
	{name: "plus only", in: "+#{}", err: wire.ErrCorruptLength},
	{name: "negative", in: "-5#hello", err: wire.ErrCorruptLength},
	{name: "digits after garbage", in: "x5#hello", err: wire.ErrCorruptLength},
	{name: "40 digits without #", in: strings.Repeat("1", 40), err: wire.ErrCorruptLength},
	{name: "100 digits without # (capture)", in: strings.Repeat("1", 100), err: wire.ErrCorruptLength},
	{name: "32 bytes without #", in: strings.Repeat(" ", 31) + "1", err: wire.ErrCorruptLength},
	{name: "# as the 33rd byte", in: "1" + strings.Repeat(" ", 31) + "#x", err: wire.ErrCorruptLength},
	{name: "error after a good frame", in: sumFrame + "wtf#{}", want: []gotFrame{fr("44#", sumBody)}, err: wire.ErrCorruptLength},

	// Too large: reported once the prefix is read, with no body yet.
	{name: "over MaxUnits, no body", in: "11#", max: 10, err: wire.ErrFrameTooLarge},
	{name: "over MaxUnits, body follows", in: "11#01234567890", max: 10, err: wire.ErrFrameTooLarge},
	{name: "exactly MaxUnits", in: "10#0123456789", max: 10, want: []gotFrame{fr("10#", "0123456789")}},
	{name: "over the default maximum", in: fmt.Sprintf("%d#", wire.DefaultMaxFrameUnits+1), err: wire.ErrFrameTooLarge},
	{name: "the default maximum", in: fmt.Sprintf("%d#{", wire.DefaultMaxFrameUnits), rest: len(fmt.Sprintf("%d#{", wire.DefaultMaxFrameUnits))},
	{name: "23 digits", in: "99999999999999999999999#", err: wire.ErrFrameTooLarge},
	// 2^64+5 must not wrap around to 5, even when MaxUnits is as large as
	// an int goes.
	{name: "2^64+5 with MaxUnits MaxInt", in: "18446744073709551621#hello", max: math.MaxInt, err: wire.ErrFrameTooLarge},
	// MaxInt as this platform has it (2^31-1 on 32-bit ones).
	{name: "MaxInt+1 with MaxUnits MaxInt", in: strconv.FormatUint(uint64(math.MaxInt)+1, 10) + "#hello", max: math.MaxInt, err: wire.ErrFrameTooLarge},
	{name: "MaxInt with MaxUnits MaxInt", in: strconv.Itoa(math.MaxInt) + "#hello", max: math.MaxInt, rest: len(strconv.Itoa(math.MaxInt) + "#hello")},
	{name: "digit that tips over MaxUnits", in: "13#", max: 12, err: wire.ErrFrameTooLarge},

	// A length that ends between the halves of a surrogate pair.
	{name: "split surrogate alone", in: "1#😀", err: wire.ErrSplitSurrogate},
	{name: "split surrogate after text", in: "3#ab😀cd", err: wire.ErrSplitSurrogate},
	{name: "surrogate pair fits", in: "4#ab😀cd", want: []gotFrame{fr("4#", "ab😀")}, rest: 2},
	// An invalid 4-byte sequence is one U+FFFD, one unit: no split.
	{name: "truncated 4-byte sequence where one unit remains", in: "1#\xF0\x9F\x98A", want: []gotFrame{fr("1#", "\xF0\x9F\x98")}, rest: 1},
}

// TestFrameScanner scans every table input whole, a byte at a time, and
// split in two at every point: all must give the same frames.
func TestFrameScanner(t *testing.T) {
	t.Parallel()
	for _, tt := range frameTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := scanned{frames: tt.want, err: tt.err, rest: tt.rest}
			check := func(how string, got scanned) {
				t.Helper()
				if !got.equal(want) {
					t.Errorf("%s:\n got  %v\n want %v", how, got, want)
				}
			}
			check("whole", scanChunks(&wire.FrameScanner{MaxUnits: tt.max}, []byte(tt.in)))
			check("byte by byte", scanChunks(&wire.FrameScanner{MaxUnits: tt.max}, []byte(tt.in), byteSteps(len(tt.in))...))
			for i := 1; i < len(tt.in); i++ {
				check(fmt.Sprintf("split at %d", i), scanChunks(&wire.FrameScanner{MaxUnits: tt.max}, []byte(tt.in), i))
			}
		})
	}
}

// TestFrameScannerGrowingPrefixes calls Scan with ever longer prefixes of
// one buffer, as a reader that appends in place does, and expects the very
// same Frame that one call over the whole buffer returns.
func TestFrameScannerGrowingPrefixes(t *testing.T) {
	t.Parallel()
	for _, tt := range frameTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := []byte(tt.in)
			var one wire.FrameScanner
			one.MaxUnits = tt.max
			wantF, wantErr := one.Scan(in)

			s := wire.FrameScanner{MaxUnits: tt.max}
			for n := 0; n <= len(in); n++ {
				f, err := s.Scan(in[:n])
				if err != nil || f.Len > 0 {
					if !errors.Is(err, wantErr) {
						t.Fatalf("prefix %d: err = %v, want %v", n, err, wantErr)
					}
					if err == nil && (f.Len != wantF.Len || !bytes.Equal(f.Body, wantF.Body) || f.InvalidUTF8 != wantF.InvalidUTF8) {
						t.Fatalf("prefix %d: frame {%q %d %t}, want {%q %d %t}",
							n, f.Body, f.Len, f.InvalidUTF8, wantF.Body, wantF.Len, wantF.InvalidUTF8)
					}
					return
				}
			}
			if wantErr != nil || wantF.Len > 0 {
				t.Fatalf("no frame or error after all %d bytes; one call gave {%q %d} err %v", len(in), wantF.Body, wantF.Len, wantErr)
			}
		})
	}
}

// TestFrameScannerCaptureSplit replays the capture where the client's first
// write ends in the middle of "é".
func TestFrameScannerCaptureSplit(t *testing.T) {
	t.Parallel()
	in := []byte(uniFrame)
	if n := len(in); n != 56 {
		t.Fatalf("capture frame is %d bytes, want 56", n)
	}
	if in[30] != 0xC3 {
		t.Fatalf("byte 30 is %#x, want 0xC3 (first byte of é)", in[30])
	}
	got := scanChunks(&wire.FrameScanner{}, in, 31, 25)
	want := scanned{frames: []gotFrame{fr("50#", uniBody)}}
	if !got.equal(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// utf16Tests pair texts with their JavaScript string.length after Node.js
// decodes them, worked out by hand from the WHATWG decoder: an invalid
// sequence becomes one U+FFFD (one unit) per maximal subpart, that is the
// longest run that could still have begun a valid character, or one byte.
var utf16Tests = []struct {
	name    string
	text    string
	units   int
	invalid bool
}{
	{"ascii", "hello", 5, false},
	{"é: 2 bytes, 1 unit", "é", 1, false},
	{"😀: 4 bytes, 2 units", "😀", 2, false},
	{"中: 3 bytes, 1 unit", "中", 1, false},
	{"CJK run", "日本語のテキスト", 8, false},
	{"héllo 😀", "héllo 😀", 8, false},
	{"boundaries of each length", "\u007F\u0080\u07FF\u0800\uFFFF\U00010000\U0010FFFF", 9, false},
	{"a real U+FFFD is valid", "\uFFFD", 1, false},
	{"long mixed (exercises the 8-byte fast path)", "abcdefghé12345678😀abcdefgh中abcdefgh", 1 + 8 + 8 + 2 + 8 + 1 + 8, false},

	{"lone continuation byte", "\x80", 1, true},
	{"two continuation bytes", "\xBF\x80", 2, true},
	{"continuation after a full char", "a😀\x80", 4, true}, // a, 😀 (2), U+FFFD
	{"truncated 2-byte then ASCII", "\xC3A", 2, true},     // C3 then A: U+FFFD A
	{"truncated 3-byte then ASCII", "\xE2\x82A", 2, true}, // E2 82 is one subpart
	{"truncated 4-byte then ASCII", "\xF0\x9F\x98A", 2, true},
	{"truncated 2-byte at end", "\xC3", 1, true},
	{"truncated 3-byte at end", "\xE0\xA0", 1, true},
	{"truncated 4-byte at end", "€\xF0\x9F\x98", 2, true},
	{"truncated 4-byte then 3-byte", "\xF0\x9F\xE2\x82\xAC", 2, true}, // F0 9F | €
	{"overlong E0 80 80", "\xE0\x80\x80", 3, true},                    // E0 needs A0..BF next: each byte alone
	{"overlong C0 80", "\xC0\x80", 2, true},                           // C0 never starts a sequence
	{"overlong C1 BF", "\xC1\xBF", 2, true},
	{"overlong F0 80 80 80", "\xF0\x80\x80\x80", 4, true}, // F0 needs 90..BF next
	{"surrogate ED A0 80", "\xED\xA0\x80", 3, true},       // ED needs 80..9F next
	{"surrogate ED BF BF", "\xED\xBF\xBF", 3, true},
	{"ED 9F BF is U+D7FF, valid", "\xED\x9F\xBF", 1, false},
	{"above U+10FFFF: F4 90 80 80", "\xF4\x90\x80\x80", 4, true}, // F4 needs 80..8F next
	{"F5 lead", "\xF5\x80\x80\x80", 4, true},
	{"F8 lead", "\xF8", 1, true},
	{"FF FE", "\xFF\xFE", 2, true},
	{"invalid in the middle of ASCII", "abcdefgh\xFFabcdefgh", 17, true},
}

// TestFrameScannerUTF16 frames each text with its hand-computed length and
// expects the scanner to take exactly the text. A byte follows the frame so
// that a text ending in a truncated sequence is seen to end (as Node.js's
// decoder only emits U+FFFD for it once the next byte arrives).
func TestFrameScannerUTF16(t *testing.T) {
	t.Parallel()
	for _, tt := range utf16Tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if ref, _, refInvalid := refDecode([]byte(tt.text)); ref != tt.units || refInvalid != tt.invalid {
				t.Fatalf("table and reference decoder disagree: table %d units invalid=%t, reference %d units invalid=%t",
					tt.units, tt.invalid, ref, refInvalid)
			}
			header := fmt.Sprintf("%d#", tt.units)
			in := []byte(header + tt.text + "9")
			want := scanned{frames: []gotFrame{{Body: tt.text, Len: len(header) + len(tt.text), Invalid: tt.invalid}}, rest: 1}
			if got := scanChunks(&wire.FrameScanner{}, in); !got.equal(want) {
				t.Errorf("whole: got %v, want %v", got, want)
			}
			if got := scanChunks(&wire.FrameScanner{}, in, byteSteps(len(in))...); !got.equal(want) {
				t.Errorf("byte by byte: got %v, want %v", got, want)
			}
			if !tt.invalid {
				if n := wire.Units([]byte(tt.text)); n != tt.units {
					t.Errorf("Units(%q) = %d, want %d", tt.text, n, tt.units)
				}
			}
		})
	}
}

// TestFrameScannerLinear feeds a 1 MiB frame one byte at a time. After each
// call the bytes already scanned are overwritten with 0xFF: a scanner that
// went back over them would see invalid UTF-8 and report it, so a clean
// result proves every byte was decoded once, whatever the clock says.
func TestFrameScannerLinear(t *testing.T) {
	t.Parallel()
	var body []byte
	for len(body) < 1<<20 {
		body = append(body, `{"k":"abcdefg é 中 😀 "},`...)
	}
	header := fmt.Sprintf("%d#", wire.Units(body))
	buf := append([]byte(header), body...)
	total := len(buf)

	var s wire.FrameScanner
	calls := 0
	for n := 1; n <= total; n++ {
		f, err := s.Scan(buf[:n])
		calls++
		if err != nil {
			t.Fatalf("after %d bytes: %v", n, err)
		}
		if f.Len > 0 {
			if n != total || f.Len != total || f.InvalidUTF8 {
				t.Fatalf("after %d of %d bytes: frame Len %d InvalidUTF8 %t; want Len %d, valid (a poisoned byte was read twice?)",
					n, total, f.Len, f.InvalidUTF8, total)
			}
			break
		}
		if least := s.MinRemaining(); n >= len(header) && (least < 1 || least > total-n) {
			t.Fatalf("after %d of %d bytes: MinRemaining() = %d, want 1..%d", n, total, least, total-n)
		}
		if n > len(header) {
			buf[n-1] = 0xFF // poison what has been scanned
		}
	}
	if calls != total {
		t.Errorf("Scan called %d times, want %d (one per byte)", calls, total)
	}
}

func TestFrameScannerMinRemaining(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		min     int
		pending bool
	}{
		{"nothing", "", 0, false},
		{"header digits only", "44", 0, true},
		{"header complete", "44#", 44, true},
		{"some body", `44#{"pattern"`, 34, true},
		{"whole é", "2#é", 1, true},
		{"whole 😀", "3#😀", 1, true},
		// While a sequence is pending one byte can complete two units:
		// "A" after C3 is U+FFFD then A; 80 after F0 9F 98 is 😀.
		{"first byte of é", "2#\xC3", 1, true},
		{"first byte of é, one unit wanted", "1#\xC3", 1, true},
		{"three bytes of 😀", "3#\xF0\x9F\x98", 2, true},
		{"two bytes of 😀", "3#\xF0\x9F", 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s wire.FrameScanner
			if f, err := s.Scan([]byte(tt.in)); err != nil || f.Len != 0 {
				t.Fatalf("Scan(%q) = Len %d, %v; want an incomplete frame", tt.in, f.Len, err)
			}
			if got := s.MinRemaining(); got != tt.min {
				t.Errorf("MinRemaining() after %q = %d, want %d", tt.in, got, tt.min)
			}
			if got := s.Pending(); got != tt.pending {
				t.Errorf("Pending() after %q = %t, want %t", tt.in, got, tt.pending)
			}
		})
	}
	t.Run("zero after a frame", func(t *testing.T) {
		t.Parallel()
		var s wire.FrameScanner
		if f, err := s.Scan([]byte(sumFrame)); err != nil || f.Len != len(sumFrame) {
			t.Fatalf("Scan = Len %d, %v; want Len %d", f.Len, err, len(sumFrame))
		}
		if s.MinRemaining() != 0 || s.Pending() {
			t.Errorf("after a complete frame: MinRemaining %d Pending %t, want 0 false", s.MinRemaining(), s.Pending())
		}
	})
}

// TestFrameScannerReset checks that Reset drops a partial frame and keeps
// MaxUnits, and that an error leaves the scanner ready for a new stream.
func TestFrameScannerReset(t *testing.T) {
	t.Parallel()
	s := wire.FrameScanner{MaxUnits: 50}
	if _, err := s.Scan([]byte(`44#{"pat`)); err != nil {
		t.Fatal(err)
	}
	s.Reset()
	if s.Pending() || s.MinRemaining() != 0 || s.MaxUnits != 50 {
		t.Fatalf("after Reset: Pending %t MinRemaining %d MaxUnits %d; want false 0 50", s.Pending(), s.MinRemaining(), s.MaxUnits)
	}
	if _, err := s.Scan([]byte("51#")); !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Errorf("MaxUnits lost by Reset: Scan(51#) err = %v, want %v", err, wire.ErrFrameTooLarge)
	}
	if s.Pending() {
		t.Errorf("Pending() after an error = true, want false")
	}
	f, err := s.Scan([]byte(sumFrame))
	if err != nil || string(f.Body) != sumBody {
		t.Errorf("after an error: Scan = %q, %v; want %q", f.Body, err, sumBody)
	}
}
