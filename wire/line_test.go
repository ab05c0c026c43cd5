package wire_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/msgpattern/msgpattern/wire"
)

// ln is the frame a LineScanner should report for a line and its line end.
func ln(body, end string) gotFrame { return fr(end, body) }

var lineTests = []struct {
	name string
	in   string
	max  int // LineScanner.MaxBytes
	want []gotFrame
	err  error
	rest int
}{
	{name: "LF", in: sumBody + "\n", want: []gotFrame{ln(sumBody, "\n")}},
	{name: "CRLF", in: sumBody + "\r\n", want: []gotFrame{ln(sumBody, "\r\n")}},
	{name: "mixed line ends", in: "a\r\nb\nc\r\n", want: []gotFrame{ln("a", "\r\n"), ln("b", "\n"), ln("c", "\r\n")}},
	{name: "partial line", in: `{"pattern":"sum"`, rest: 16},
	{name: "line then partial line", in: "a\nbc", want: []gotFrame{ln("a", "\n")}, rest: 2},
	{name: "CR without LF yet", in: "a\r", rest: 2},
	{name: "lone CR inside a line", in: "a\rb\n", want: []gotFrame{ln("a\rb", "\n")}},
	{name: "blank line", in: "\n", want: []gotFrame{ln("", "\n")}},
	{name: "blank CRLF line", in: "\r\n", want: []gotFrame{ln("", "\r\n")}},
	{name: "blank lines around", in: "\n\na\n\r\n", want: []gotFrame{ln("", "\n"), ln("", "\n"), ln("a", "\n"), ln("", "\r\n")}},
	{name: "blanks kept", in: "  {} \t\n", want: []gotFrame{ln("  {} \t", "\n")}},
	{name: "unicode", in: "héllo 😀 中\n", want: []gotFrame{ln("héllo 😀 中", "\n")}},
	{name: "invalid UTF-8", in: "a\xFFb\n", want: []gotFrame{ln("a\xFFb", "\n")}},
	{name: "surrogate is invalid", in: "\xED\xA0\x80\n", want: []gotFrame{ln("\xED\xA0\x80", "\n")}},
	{name: "truncated sequence before the line end", in: "\xE2\x82\n", want: []gotFrame{ln("\xE2\x82", "\n")}},
	{name: "# is nothing special", in: "5#{}\n", want: []gotFrame{ln("5#{}", "\n")}},

	{name: "line of MaxBytes", in: "12345\n", max: 5, want: []gotFrame{ln("12345", "\n")}},
	{name: "line over MaxBytes", in: "123456\n", max: 5, err: wire.ErrFrameTooLarge},
	{name: "partial line over MaxBytes", in: "123456", max: 5, err: wire.ErrFrameTooLarge},
	{name: "partial line of MaxBytes", in: "12345", max: 5, rest: 5},
	{name: "second line over MaxBytes", in: "12\n123456\n", max: 5, want: []gotFrame{ln("12", "\n")}, err: wire.ErrFrameTooLarge},
	{name: "many short lines under MaxBytes", in: strings.Repeat("123\n", 10), max: 5, want: []gotFrame{
		ln("123", "\n"), ln("123", "\n"), ln("123", "\n"), ln("123", "\n"), ln("123", "\n"),
		ln("123", "\n"), ln("123", "\n"), ln("123", "\n"), ln("123", "\n"), ln("123", "\n"),
	}},
}

func TestLineScanner(t *testing.T) {
	t.Parallel()
	for _, tt := range lineTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := scanned{frames: tt.want, err: tt.err, rest: tt.rest}
			check := func(how string, got scanned) {
				t.Helper()
				if !got.equal(want) {
					t.Errorf("%s:\n got  %v\n want %v", how, got, want)
				}
			}
			check("whole", scanChunks(&wire.LineScanner{MaxBytes: tt.max}, []byte(tt.in)))
			check("byte by byte", scanChunks(&wire.LineScanner{MaxBytes: tt.max}, []byte(tt.in), byteSteps(len(tt.in))...))
			for i := 1; i < len(tt.in); i++ {
				check(fmt.Sprintf("split at %d", i), scanChunks(&wire.LineScanner{MaxBytes: tt.max}, []byte(tt.in), i))
			}
		})
	}
}

func TestLineScannerPending(t *testing.T) {
	t.Parallel()
	var s wire.LineScanner
	if s.Pending() {
		t.Fatal("zero LineScanner: Pending() = true, want false")
	}
	if f, err := s.Scan([]byte("abc")); err != nil || f.Len != 0 {
		t.Fatalf(`Scan("abc") = Len %d, %v; want an incomplete line`, f.Len, err)
	}
	if !s.Pending() {
		t.Error(`after Scan("abc"): Pending() = false, want true`)
	}
	s.Reset()
	if s.Pending() {
		t.Error("after Reset: Pending() = true, want false")
	}
	if f, err := s.Scan([]byte("x\n")); err != nil || string(f.Body) != "x" || f.Len != 2 {
		t.Errorf(`after Reset: Scan("x\n") = {%q %d}, %v; want {"x" 2}, nil`, f.Body, f.Len, err)
	}
	if s.Pending() {
		t.Error("after a complete line: Pending() = true, want false")
	}
}

func TestDetectFraming(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		f         wire.Framing
		ok, known bool
	}{
		{"", wire.NestJS, false, false},
		{"   \t\r\n", wire.NestJS, false, false},
		{"4", wire.NestJS, true, true},
		{sumFrame, wire.NestJS, true, true},
		{"  3xyz#{}", wire.NestJS, true, true},
		{"+5#hello", wire.NestJS, true, true},
		{"\v\f9", wire.NestJS, true, true},
		{"{", wire.NDJSON, true, true},
		{"\r\n" + sumBody, wire.NDJSON, true, true},
		{"[1]", wire.NestJS, true, false},
		{"-5#", wire.NestJS, true, false},
		{"abc#{}", wire.NestJS, true, false},
		{"\xEF\xBB\xBF{}", wire.NestJS, true, false}, // the sniff is ASCII: a BOM is not a blank there
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			t.Parallel()
			f, ok, known := wire.DetectFraming([]byte(tt.in))
			if ok != tt.ok || known != tt.known || ok && known && f != tt.f {
				t.Errorf("DetectFraming(%q) = %v, %t, %t; want %v, %t, %t", tt.in, f, ok, known, tt.f, tt.ok, tt.known)
			}
		})
	}
}

func TestFramingString(t *testing.T) {
	t.Parallel()
	for f, want := range map[wire.Framing]string{wire.NestJS: "nestjs", wire.NDJSON: "ndjson"} {
		if got := f.String(); got != want {
			t.Errorf("Framing(%d).String() = %q, want %q", f, got, want)
		}
	}
}

// FuzzLineScanner checks LineScanner on any input, in any chunking, against
// bytes.Split: every line up to its "\n", less one '\r' before it, is a
// frame of at most MaxBytes; a longer line, complete or not (a final '\r'
// may still be its line end's), is ErrFrameTooLarge; what follows the last
// "\n" waits.
func FuzzLineScanner(f *testing.F) {
	for _, tt := range lineTests {
		f.Add([]byte(tt.in), 0, tt.max)
		f.Add([]byte(tt.in), len(tt.in)/2, tt.max)
	}
	f.Fuzz(func(t *testing.T, data []byte, split, maxBytes int) {
		max := maxBytes
		if max <= 0 {
			max = wire.DefaultMaxLineBytes
		}
		var want scanned
		lines := bytes.Split(data, []byte("\n"))
		for i, line := range lines {
			last := i == len(lines)-1
			body := line
			if n := len(body); n > 0 && body[n-1] == '\r' {
				body = body[:n-1]
			}
			if len(body) > max {
				want.err = wire.ErrFrameTooLarge
				break
			}
			if last {
				want.rest = len(line)
				break
			}
			want.frames = append(want.frames, gotFrame{string(body), len(line) + 1, !utf8.Valid(body)})
		}
		newScanner := func() *wire.LineScanner { return &wire.LineScanner{MaxBytes: maxBytes} }
		p := 0
		if len(data) > 0 {
			p = int(uint(split) % uint(len(data)+1))
		}
		for how, got := range map[string]scanned{
			"whole":        scanChunks(newScanner(), data),
			"split":        scanChunks(newScanner(), data, p),
			"byte by byte": scanChunks(newScanner(), data, byteSteps(min(len(data), 512))...),
		} {
			if !got.equal(want) {
				t.Fatalf("%q (MaxBytes %d), %s (at %d):\n got  %v\n want %v", data, maxBytes, how, p, got, want)
			}
		}
	})
}
