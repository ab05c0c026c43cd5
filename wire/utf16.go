package wire

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// asciiMask has the high bit of each of eight bytes set: a word ANDed with it
// is zero exactly when all eight bytes are ASCII.
const asciiMask = 0x8080808080808080

// utf8Decoder is the WHATWG UTF-8 decoder reduced to what framing needs: how
// many UTF-16 code units the decoded text has. Node.js's StringDecoder
// follows the same rules, so counting this way agrees with JavaScript's
// string.length on any input, valid or not.
type utf8Decoder struct {
	needed, seen uint8
	lower, upper byte
}

// step feeds one byte. It returns the UTF-16 units completed by this byte and
// whether the byte must be fed again (an invalid continuation ends the pending
// sequence as one U+FFFD and is then decoded on its own). invalid reports that
// a U+FFFD was produced.
func (d *utf8Decoder) step(b byte) (units int, again, invalid bool) {
	if d.needed == 0 {
		switch {
		case b < 0x80:
			return 1, false, false
		case b >= 0xC2 && b <= 0xDF:
			d.needed = 1
		case b >= 0xE0 && b <= 0xEF:
			if b == 0xE0 {
				d.lower = 0xA0
			} else if b == 0xED {
				d.upper = 0x9F
			}
			d.needed = 2
		case b >= 0xF0 && b <= 0xF4:
			if b == 0xF0 {
				d.lower = 0x90
			} else if b == 0xF4 {
				d.upper = 0x8F
			}
			d.needed = 3
		default:
			return 1, false, true
		}
		if d.lower == 0 {
			d.lower = 0x80
		}
		if d.upper == 0 {
			d.upper = 0xBF
		}
		return 0, false, false
	}
	if b < d.lower || b > d.upper {
		*d = utf8Decoder{}
		return 1, true, true
	}
	d.lower, d.upper = 0x80, 0xBF
	d.seen++
	if d.seen < d.needed {
		return 0, false, false
	}
	units = 1
	if d.needed == 3 { // a 4-byte sequence is a code point above U+FFFF: a surrogate pair
		units = 2
	}
	*d = utf8Decoder{}
	return units, false, false
}

// pending reports whether a multi-byte sequence is incomplete.
func (d *utf8Decoder) pending() bool { return d.needed != 0 }

// Units returns the number of UTF-16 code units of b, which must be valid
// UTF-8 (as everything this package encodes is). It is JavaScript's
// string.length of the decoded text.
func Units(b []byte) int {
	n := 0
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if w&asciiMask == 0 {
			n += 8
			continue
		}
		// Every byte but a continuation byte (10xxxxxx) starts a
		// character; a 4-byte lead (11110xxx) adds the second surrogate.
		cont := w & asciiMask &^ (w << 1)
		four := w & (w << 1) & (w << 2) & (w << 3) & asciiMask
		n += 8 - bits.OnesCount64(cont) + bits.OnesCount64(four)
	}
	return n + unitsSlow(b[i:])
}

// unitsSlow counts units byte by byte: every byte that is not a continuation
// byte starts a character, and a 4-byte lead adds the second surrogate.
func unitsSlow(b []byte) int {
	n := 0
	for _, c := range b {
		if c&0xC0 != 0x80 {
			n++
		}
		if c >= 0xF0 {
			n++
		}
	}
	return n
}

// SanitizeUTF8 appends b to dst with every invalid UTF-8 sequence replaced by
// U+FFFD, exactly as Node.js decodes it (one replacement per maximal invalid
// subpart, WHATWG Encoding Standard), so that a handler sees the text a NestJS
// handler would see.
func SanitizeUTF8(dst, b []byte) []byte {
	var d utf8Decoder
	start := 0 // first byte of the sequence being decoded
	for i := 0; i < len(b); {
		units, again, invalid := d.step(b[i])
		switch {
		case invalid:
			dst = utf8.AppendRune(dst, utf8.RuneError)
			if !again {
				i++
			}
			start = i
		case units > 0:
			i++
			dst = append(dst, b[start:i]...)
			start = i
		default:
			i++
		}
	}
	if d.pending() { // truncated sequence at the end
		dst = utf8.AppendRune(dst, utf8.RuneError)
	}
	return dst
}

// SanitizedLen is len(SanitizeUTF8(nil, b)), without the copy: what a
// server must find room for before it makes one.
func SanitizedLen(b []byte) int {
	var d utf8Decoder
	n, start := 0, 0
	for i := 0; i < len(b); {
		units, again, invalid := d.step(b[i])
		switch {
		case invalid:
			n += utf8.RuneLen(utf8.RuneError)
			if !again {
				i++
			}
			start = i
		case units > 0:
			i++
			n += i - start
			start = i
		default:
			i++
		}
	}
	if d.pending() {
		n += utf8.RuneLen(utf8.RuneError)
	}
	return n
}
