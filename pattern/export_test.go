package pattern

import (
	"math"
	"unicode/utf8"
)

// Test-only hooks for the black-box tests in package pattern_test.

// ReorderedForms re-serializes a JSON object or array pattern raw as a Nest
// client could have sent the same value: with every object's keys in reverse
// order (reordered), and that text as a JSON string pattern (quoted). Numbers
// beyond a double become null, as JSON.stringify would have written them. ok
// is false when raw is not an object or array, or when some object has two
// keys that collate equal, since their order then shows in the route, and
// for inputs over 4 KiB, which the quadratic tie check would make slow.
func ReorderedForms(raw []byte) (reordered, quoted []byte, ok bool) {
	if len(raw) > 4<<10 {
		return nil, nil, false
	}
	st := new(state)
	p := st.parser(raw)
	p.infToNull = true
	p.maxDepth, p.maxKeys = maxNesting, math.MaxInt32
	root, ok := p.parse()
	if !ok {
		return nil, nil, false
	}
	if k := st.values[root].kind; k != kindObject && k != kindArray {
		return nil, nil, false
	}
	if st.hasTies() {
		return nil, nil, false
	}
	reordered = st.appendJSON(nil, root)
	quoted = appendJSONString(nil, reordered)
	return reordered, quoted, true
}

// hasTies reports whether some object has two keys that collate equal.
func (st *state) hasTies() bool {
	for _, v := range st.values {
		if v.kind != kindObject {
			continue
		}
		for i := v.lo; i < v.hi; i++ {
			for j := i + 1; j < v.hi; j++ {
				if st.compareKeys(st.bytes(st.in, st.members[i].key), st.bytes(st.in, st.members[j].key)) == 0 {
					return true
				}
			}
		}
	}
	return false
}

// appendJSON writes value vi as JSON, object keys in reverse order.
func (st *state) appendJSON(dst []byte, vi int32) []byte {
	v := &st.values[vi]
	switch v.kind {
	case kindNumber:
		return AppendNumber(dst, v.num) // always valid JSON for finite numbers
	case kindString:
		return appendJSONString(dst, st.bytes(st.in, v.str))
	case kindArray:
		dst = append(dst, '[')
		for i := v.lo; i < v.hi; i++ {
			if i > v.lo {
				dst = append(dst, ',')
			}
			dst = st.appendJSON(dst, st.members[i].val)
		}
		return append(dst, ']')
	case kindObject:
		dst = append(dst, '{')
		for i := v.hi - 1; i >= v.lo; i-- {
			m := st.members[i]
			dst = appendJSONString(dst, st.bytes(st.in, m.key))
			dst = append(dst, ':')
			dst = st.appendJSON(dst, m.val)
			if i > v.lo {
				dst = append(dst, ',')
			}
		}
		return append(dst, '}')
	}
	return st.appendValue(dst, vi) // null, true, false
}

// appendJSONString quotes s, which is UTF-8 or WTF-8, as a JSON string,
// writing lone surrogates as \u escapes.
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for len(s) > 0 {
		c := s[0]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
			s = s[1:]
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			s = s[1:]
		case c == 0xED && len(s) >= 3 && s[1] >= 0xA0:
			u := 0xD000 | rune(s[1]&0x3F)<<6 | rune(s[2]&0x3F)
			dst = append(dst, '\\', 'u', hex[u>>12], hex[u>>8&15], hex[u>>4&15], hex[u&15])
			s = s[3:]
		default:
			_, n := utf8.DecodeRune(s)
			dst = append(dst, s[:n]...)
			s = s[n:]
		}
	}
	return append(dst, '"')
}
