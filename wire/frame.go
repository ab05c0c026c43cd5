package wire

import (
	"encoding/binary"
	"errors"
	"strconv"
	"unicode/utf8"
)

// DefaultMaxFrameUnits is the largest frame body a [FrameScanner] accepts
// when MaxUnits is zero: 16 Mi UTF-16 units (16 MiB of ASCII JSON). NestJS
// 11+ allows 128 Mi units; a Go server that buffers whole frames needs a
// tighter default, and anyone who needs more can raise it.
const DefaultMaxFrameUnits = 16 << 20

// maxHeaderBytes bounds the length prefix. NestJS would buffer a prefix
// without '#' until its buffer limit; 32 bytes is ample for any length plus
// the leading blanks and trailing garbage that parseInt tolerates.
const maxHeaderBytes = 32

// Framing errors. After any of them the byte stream cannot be resynchronised:
// the connection must be closed.
var (
	// ErrCorruptLength means the length prefix is not a non-negative decimal
	// number, or no '#' came within the first 32 bytes.
	ErrCorruptLength = errors.New("wire: corrupted length value")
	// ErrFrameTooLarge means a frame is longer than the configured maximum;
	// it is reported as soon as the length prefix is read, before the body
	// is buffered.
	ErrFrameTooLarge = errors.New("wire: frame too large")
	// ErrSplitSurrogate means the length prefix ends between the two halves
	// of a UTF-16 surrogate pair, which no NestJS peer can produce from
	// valid text.
	ErrSplitSurrogate = errors.New("wire: frame length splits a surrogate pair")
)

// Frame is one complete frame found by a scanner.
type Frame struct {
	// Body is the frame's text: the JSON after '#' (or the line, without
	// its line end). It aliases the scanned buffer.
	Body []byte
	// Len is the number of input bytes the frame occupied, header included.
	// It is zero when no complete frame was found.
	Len int
	// InvalidUTF8 reports that Body holds invalid UTF-8; a peer decoding it
	// as Node.js does would see U+FFFD in its place (see [SanitizeUTF8]).
	InvalidUTF8 bool
}

// FrameScanner finds NestJS "<length>#<json>" frames in a byte stream.
//
// Call Scan with the unconsumed input, which must start at the beginning of
// a frame. When the frame is not complete yet Scan returns a zero Frame and
// remembers how far it got; call it again with the same frame start and more
// bytes appended (the buffer may have moved). After a complete frame the
// caller drops Frame.Len bytes and the scanner is ready for the next frame.
// The zero value is ready to use with [DefaultMaxFrameUnits].
type FrameScanner struct {
	// MaxUnits is the largest accepted body length in UTF-16 units; zero
	// means DefaultMaxFrameUnits.
	MaxUnits int

	inBody    bool
	bodyStart int // offset of the first body byte
	want      int // body length in units
	pos       int // offset scanned up to
	units     int // units completed in the body so far
	lastEnd   int // offset just after the last completed character
	invalid   bool
	dec       utf8Decoder
}

// Reset forgets any partially scanned frame.
func (s *FrameScanner) Reset() {
	max := s.MaxUnits
	*s = FrameScanner{MaxUnits: max}
}

// MinRemaining returns the least number of bytes still needed to complete
// the frame being scanned: about one per missing UTF-16 unit. It is zero
// while the length prefix is incomplete.
func (s *FrameScanner) MinRemaining() int {
	if !s.inBody {
		return 0
	}
	n := s.want - s.units
	if s.dec.pending() && n > 1 {
		// The next byte may complete two units at once: the rest of a
		// 4-byte character, or a U+FFFD for the pending bytes followed by
		// an ASCII character of its own.
		n--
	}
	return n
}

// EstimatedRemaining returns a guess of the bytes still needed to complete
// the frame being scanned: the missing units at the bytes-per-unit ratio of
// the body so far, and never less than MinRemaining. A reader sizes its
// buffer by it, so a frame of multi-byte text does not grow the buffer in
// many small steps.
func (s *FrameScanner) EstimatedRemaining() int {
	n := s.MinRemaining()
	if n == 0 || s.units == 0 {
		return n
	}
	bytes := s.lastEnd - s.bodyStart
	est := int((int64(s.want-s.units)*int64(bytes) + int64(s.units) - 1) / int64(s.units))
	return max(n, est)
}

// Pending reports whether part of a frame has been scanned.
func (s *FrameScanner) Pending() bool { return s.pos > 0 }

// Scan looks for one complete frame at the start of buf.
func (s *FrameScanner) Scan(buf []byte) (Frame, error) {
	if !s.inBody {
		if err := s.scanHeader(buf); err != nil || !s.inBody {
			return Frame{}, err
		}
	}
	i, units := s.pos, s.units
	for i < len(buf) && units < s.want {
		// Fast path: a run of ASCII bytes is as many units; checked 32,
		// then 8 bytes at a time, never past the frame's last unit.
		if !s.dec.pending() {
			end := len(buf)
			if rest := s.want - units; rest < end-i { // (no overflow near MaxInt)
				end = i + rest
			}
			if j := asciiRun(buf[:end], i); j > i {
				units += j - i
				i = j
				s.lastEnd = i
				continue
			}
		}
		// A whole valid multi-byte character at once: Go's UTF-8 rules
		// for valid text are the WHATWG decoder's. Anything else goes
		// through the decoder, byte by byte, for its replacement rules.
		if c := buf[i]; c >= 0x80 && !s.dec.pending() {
			if r, size := utf8.DecodeRune(buf[i:]); size > 1 {
				u := 1
				if r > 0xFFFF {
					u = 2
				}
				if units+u <= s.want || u == 1 {
					i += size
					units += u
					s.lastEnd = i
					continue
				}
			}
		}
		n, again, invalid := s.dec.step(buf[i])
		if invalid {
			s.invalid = true
		}
		if !again {
			i++
		}
		if n > 0 {
			// A replacement produced by an invalid continuation ends
			// before that byte, which is then fed again: i has not moved.
			units += n
			s.lastEnd = i
		}
	}
	if units > s.want {
		s.Reset()
		return Frame{}, ErrSplitSurrogate
	}
	if units < s.want {
		s.pos, s.units = i, units
		return Frame{}, nil
	}
	f := Frame{Body: buf[s.bodyStart:s.lastEnd], Len: s.lastEnd, InvalidUTF8: s.invalid}
	s.Reset()
	return f, nil
}

// asciiRun returns the end of the run of 8-byte words of ASCII in b
// from i.
func asciiRun(b []byte, i int) int {
	// Advancing a slice of at least 32 bytes lets the compiler drop the
	// bounds checks, which otherwise halve the speed.
	rest := b[i:]
	for len(rest) >= 32 {
		w := binary.LittleEndian.Uint64(rest[0:8]) | binary.LittleEndian.Uint64(rest[8:16]) |
			binary.LittleEndian.Uint64(rest[16:24]) | binary.LittleEndian.Uint64(rest[24:32])
		if w&asciiMask != 0 {
			break
		}
		rest = rest[32:]
	}
	for len(rest) >= 8 && binary.LittleEndian.Uint64(rest[:8])&asciiMask == 0 {
		rest = rest[8:]
	}
	return len(b) - len(rest)
}

// scanHeader parses the length prefix the way JavaScript's parseInt does in
// NestJS: leading blanks (Unicode ones too) are skipped and anything after
// the digits, up to '#', is ignored.
func (s *FrameScanner) scanHeader(buf []byte) error {
	hash := -1
	for i := s.pos; i < len(buf) && i < maxHeaderBytes; i++ {
		if buf[i] == '#' {
			hash = i
			break
		}
	}
	if hash < 0 {
		if len(buf) >= maxHeaderBytes {
			s.Reset()
			return ErrCorruptLength
		}
		s.pos = len(buf)
		return nil
	}
	n, err := parseLength(buf[:hash], s.maxUnits())
	if err != nil {
		s.Reset()
		return err
	}
	s.inBody = true
	s.bodyStart = hash + 1
	s.pos = hash + 1
	s.lastEnd = hash + 1
	s.want = n
	return nil
}

func (s *FrameScanner) maxUnits() int {
	if s.MaxUnits > 0 {
		return s.MaxUnits
	}
	return DefaultMaxFrameUnits
}

// parseLength reads a decimal length as parseInt would, rejecting what
// parseInt turns into NaN and lengths that are negative or too large.
func parseLength(h []byte, max int) (int, error) {
	i := 0
	if len(h) > 0 && (h[0] < '0' || h[0] > '9') {
		i = skipJSBlanks(h)
	}
	if i < len(h) && h[i] == '+' {
		i++
	}
	start := i
	n := 0
	tooLarge := false
	for i < len(h) && h[i] >= '0' && h[i] <= '9' {
		// Once the value exceeds max, keep going only to validate. The test
		// is written so that n*10+d cannot overflow whatever max is.
		if d := int(h[i] - '0'); !tooLarge {
			if n > max/10 || n*10 > max-d {
				tooLarge = true
			} else {
				n = n*10 + d
			}
		}
		i++
	}
	if i == start {
		return 0, ErrCorruptLength
	}
	if tooLarge {
		return 0, ErrFrameTooLarge
	}
	return n, nil
}

// isJSBlank reports the ASCII characters JavaScript's parseInt skips.
func isJSBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// skipJSBlanks returns the length of the run of blanks parseInt skips at the
// start of h: ECMAScript's WhiteSpace and LineTerminator, non-ASCII ones
// included (NestJS parses the prefix after decoding it). h ends at '#', so a
// blank cut short by a read is never seen here: the scanner waits for '#'.
func skipJSBlanks(h []byte) int {
	i := 0
	for i < len(h) {
		if c := h[i]; c < utf8.RuneSelf {
			if !isJSBlank(c) {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(h[i:])
		switch {
		case r == 0xA0, r == 0x1680, r >= 0x2000 && r <= 0x200A, r == 0x2028, r == 0x2029,
			r == 0x202F, r == 0x205F, r == 0x3000, r == 0xFEFF:
			i += n
		default:
			return i
		}
	}
	return i
}

// AppendHeader appends the NestJS length prefix for a body of the given
// number of UTF-16 units.
func AppendHeader(dst []byte, units int) []byte {
	dst = strconv.AppendInt(dst, int64(units), 10)
	return append(dst, '#')
}

// AppendFrame appends body, framed, to dst. body must be valid UTF-8.
func AppendFrame(dst []byte, f Framing, body []byte) []byte {
	switch f {
	case NDJSON:
		dst = append(dst, body...)
		return append(dst, '\n')
	case Unframed:
		return append(dst, body...)
	}
	dst = AppendHeader(dst, Units(body))
	return append(dst, body...)
}
