package wire

import (
	"bytes"
	"unicode/utf8"
)

// DefaultMaxLineBytes is the longest line a [LineScanner] accepts when
// MaxBytes is zero.
const DefaultMaxLineBytes = DefaultMaxFrameUnits

// LineScanner finds newline-delimited frames: one JSON text per line, the
// line end being "\n" or "\r\n". It follows the same calling convention as
// [FrameScanner]. Blank lines come back as frames with an empty Body.
type LineScanner struct {
	// MaxBytes is the longest accepted line; zero means DefaultMaxLineBytes.
	MaxBytes int

	pos int
}

// Reset forgets any partially scanned line.
func (s *LineScanner) Reset() { s.pos = 0 }

// Pending reports whether part of a line has been scanned.
func (s *LineScanner) Pending() bool { return s.pos > 0 }

// Scan looks for one complete line at the start of buf.
func (s *LineScanner) Scan(buf []byte) (Frame, error) {
	max := s.MaxBytes
	if max <= 0 {
		max = DefaultMaxLineBytes
	}
	i := bytes.IndexByte(buf[s.pos:], '\n')
	if i < 0 {
		s.pos = len(buf)
		// The \r of a \r\n line end is not the line's.
		if n := len(buf); n > max && !(n == max+1 && buf[n-1] == '\r') {
			s.pos = 0
			return Frame{}, ErrFrameTooLarge
		}
		return Frame{}, nil
	}
	end := s.pos + i
	s.pos = 0
	body := buf[:end]
	if n := len(body); n > 0 && body[n-1] == '\r' {
		body = body[:n-1]
	}
	if len(body) > max {
		return Frame{}, ErrFrameTooLarge
	}
	return Frame{Body: body, Len: end + 1, InvalidUTF8: !utf8.Valid(body)}, nil
}
