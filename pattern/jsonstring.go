package pattern

import (
	"unicode/utf8"

	"github.com/msgpattern/msgpattern/internal/jsonlex"
)

// JSON strings: validation, decoding of escapes into UTF-8 (WTF-8 for lone
// surrogates), and Node's replacement of invalid UTF-8.

// str reads a JSON string starting at the opening quote. A string with no
// escapes and valid text is returned as a span of the input; otherwise it is
// decoded into st.buf. With discard it is only validated.
func (p *parser) str(discard bool) (span, bool) {
	start := p.pos + 1
	for i := start; i < len(p.in); {
		c := p.in[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return span{int32(start), int32(i), false}, true
		case c == '\\':
			if discard {
				return p.skipStr(i)
			}
			return p.decodeStr(start, i)
		case c < 0x20:
			return span{}, false
		case c < 0x80 || p.trusted || discard:
			i++
		default:
			r, size := utf8.DecodeRune(p.in[i:])
			if r == utf8.RuneError && size <= 1 {
				return p.decodeStr(start, i)
			}
			i += size
		}
	}
	return span{}, false
}

// skipStr validates the rest of a string from i without decoding it.
func (p *parser) skipStr(i int) (span, bool) {
	for i < len(p.in) {
		switch c := p.in[i]; {
		case c == '"':
			p.pos = i + 1
			return span{}, true
		case c == '\\':
			n := jsonlex.EscapeLen(p.in[i:])
			if n == 0 {
				return span{}, false
			}
			i += n
		case c < 0x20:
			return span{}, false
		default:
			i++
		}
	}
	return span{}, false
}

// decodeStr decodes a string whose plain prefix is in[start:i] into st.buf.
func (p *parser) decodeStr(start, i int) (span, bool) {
	st := p.st
	lo := len(st.buf)
	st.buf = append(st.buf, p.in[start:i]...)
	for i < len(p.in) {
		c := p.in[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return span{int32(lo), int32(len(st.buf)), true}, true
		case c == '\\':
			n := jsonlex.EscapeLen(p.in[i:])
			if n == 0 {
				return span{}, false
			}
			if n == 2 {
				st.buf = append(st.buf, unescape[p.in[i+1]])
			} else {
				u, _ := jsonlex.Hex4(p.in[i+2:])
				st.buf = appendUnit(st.buf, lo, u)
			}
			i += n
		case c < 0x20:
			return span{}, false
		case c < 0x80:
			st.buf = append(st.buf, c)
			i++
		case p.trusted:
			// Our own UTF-8/WTF-8: copied as is, but for a lone low
			// surrogate (ED B0–BF xx, from a \uDCxx escape in the first
			// parse): it joins a high one just decoded from an escape, as
			// the two UTF-16 units form one character in JavaScript.
			if c == 0xED && i+2 < len(p.in) && p.in[i+1]&0xF0 == 0xB0 {
				u := 0xD000 | rune(p.in[i+1]&0x3F)<<6 | rune(p.in[i+2]&0x3F)
				st.buf = appendUnit(st.buf, lo, u)
				i += 3
				continue
			}
			st.buf = append(st.buf, c)
			i++
		default:
			r, size := utf8.DecodeRune(p.in[i:])
			if r == utf8.RuneError && size <= 1 {
				st.buf = append(st.buf, "\uFFFD"...)
				i += invalidLen(p.in[i:])
				continue
			}
			st.buf = append(st.buf, p.in[i:i+size]...)
			i += size
		}
	}
	return span{}, false
}

var unescape = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// appendUnit appends one UTF-16 code unit from a \u escape to a string being
// decoded since buf[lo]. Text is kept as UTF-8, and a surrogate without its
// partner as its 3-byte WTF-8 form (the generalized UTF-8 encoding of the
// surrogate code point), so two lone surrogates never compare equal to each
// other or to U+FFFD, as in JavaScript. A low surrogate that follows a high
// one, escaped or not, joins it into one 4-byte character, as the two UTF-16
// units would form one character in JavaScript.
func appendUnit(buf []byte, lo int, u rune) []byte {
	if 0xDC00 <= u && u <= 0xDFFF && len(buf)-lo >= 3 {
		t := buf[len(buf)-3:]
		if t[0] == 0xED && t[1]&0xF0 == 0xA0 {
			hi := 0xD000 | rune(t[1]&0x3F)<<6 | rune(t[2]&0x3F)
			return utf8.AppendRune(buf[:len(buf)-3], 0x10000+(hi-0xD800)<<10+(u-0xDC00))
		}
	}
	if 0xD800 <= u && u <= 0xDFFF {
		return append(buf, 0xE0|byte(u>>12), 0x80|byte(u>>6)&0x3F, 0x80|byte(u)&0x3F)
	}
	return utf8.AppendRune(buf, u)
}

// invalidLen returns how many bytes at the start of b, which do not begin a
// valid UTF-8 sequence, one U+FFFD replaces. Node decodes as the WHATWG
// Encoding Standard says: a maximal prefix of a valid sequence counts as one
// error, any other byte as one error each (utf8.DecodeRune would report
// every byte of "\xE2\x82" separately).
func invalidLen(b []byte) int {
	lower, upper := byte(0x80), byte(0xBF)
	need := 0
	switch c := b[0]; {
	case 0xC2 <= c && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lower = 2, 0xA0
	case c == 0xED:
		need, upper = 2, 0x9F
	case 0xE1 <= c && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lower = 3, 0x90
	case c == 0xF4:
		need, upper = 3, 0x8F
	case 0xF1 <= c && c <= 0xF3:
		need = 3
	default:
		return 1
	}
	n := 1
	for ; n <= need && n < len(b); n++ {
		if b[n] < lower || b[n] > upper {
			break
		}
		lower, upper = 0x80, 0xBF
	}
	return n
}
