package wire_test

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/msgpattern/msgpattern/wire"
)

// This file holds what several test files share: a reference UTF-8 decoder
// written independently of the package's state machine, and a driver that
// feeds a byte stream to a Scanner in chunks the way a connection would.

// refPrefixOfValid reports whether p (one to three bytes) is the beginning
// of the UTF-8 encoding of some code point. It asks unicode/utf8 rather than
// encoding the WHATWG ranges a second time: p is completed with continuation
// bytes to every possible sequence length, and the completion must decode as
// one rune of exactly that length. Only the second byte of a sequence is
// constrained beyond 80..BF (after E0, ED, F0 and F4), so trying 80, 90 and
// A0 there reaches every valid sequence.
func refPrefixOfValid(p []byte) bool {
	for total := len(p) + 1; total <= utf8.UTFMax; total++ {
		for _, second := range []byte{0x80, 0x90, 0xA0} {
			c := append([]byte(nil), p...)
			for len(c) < total {
				if len(c) == 1 {
					c = append(c, second)
				} else {
					c = append(c, 0x80)
				}
			}
			if _, size := utf8.DecodeRune(c); size == total {
				return true
			}
		}
	}
	return false
}

// refDecode decodes b as the WHATWG UTF-8 decoder (and so Node.js) does:
// every maximal subpart of an invalid sequence — the longest prefix that
// could still begin a valid sequence, or else a single byte — becomes one
// U+FFFD. It returns the JavaScript string.length of the result, the result
// as UTF-8, and whether any replacement happened.
func refDecode(b []byte) (units int, text []byte, invalid bool) {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size > 1 {
			units += utf16.RuneLen(r)
			text = append(text, b[i:i+size]...)
			i += size
			continue
		}
		k := 1
		for n := min(3, len(b)-i); n > 1; n-- {
			if refPrefixOfValid(b[i : i+n]) {
				k = n
				break
			}
		}
		units++
		text = utf8.AppendRune(text, utf8.RuneError)
		invalid = true
		i += k
	}
	return units, text, invalid
}

// scanned is what a Scanner made of a whole byte stream.
type scanned struct {
	frames []gotFrame
	err    error
	rest   int // bytes left over: an incomplete frame
}

type gotFrame struct {
	Body    string
	Len     int
	Invalid bool
}

func (s scanned) String() string {
	var b bytes.Buffer
	for _, f := range s.frames {
		fmt.Fprintf(&b, "{%q len=%d invalid=%t} ", f.Body, f.Len, f.Invalid)
	}
	fmt.Fprintf(&b, "err=%v rest=%d", s.err, s.rest)
	return b.String()
}

func (s scanned) equal(o scanned) bool {
	if !errors.Is(s.err, o.err) || !errors.Is(o.err, s.err) || s.rest != o.rest || len(s.frames) != len(o.frames) {
		return false
	}
	for i := range s.frames {
		if s.frames[i] != o.frames[i] {
			return false
		}
	}
	return true
}

// scanChunks feeds in to sc split into chunks of the given sizes (the last
// chunk takes whatever remains; a size of 0 means "everything"), the way a
// connection reading from a socket does: after every read it scans until no
// complete frame is left, then waits for more. The unconsumed bytes are
// copied to a new buffer before each scan, so the scanner must not depend
// on the buffer staying where it was.
func scanChunks(sc wire.Scanner, in []byte, sizes ...int) scanned {
	var out scanned
	var pending []byte
	for len(in) > 0 {
		n := len(in)
		if len(sizes) > 0 {
			if sizes[0] > 0 && sizes[0] < n {
				n = sizes[0]
			}
			sizes = sizes[1:]
		}
		pending = append(append([]byte(nil), pending...), in[:n]...)
		in = in[n:]
		for {
			f, err := sc.Scan(pending)
			if err != nil {
				out.err = err
				return out
			}
			if f.Len == 0 {
				break
			}
			out.frames = append(out.frames, gotFrame{string(f.Body), f.Len, f.InvalidUTF8})
			pending = pending[f.Len:]
			if len(pending) == 0 {
				break
			}
		}
	}
	out.rest = len(pending)
	return out
}

// byteSteps returns n chunk sizes of 1: the stream arrives a byte at a time.
func byteSteps(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = 1
	}
	return s
}
