package pattern

import (
	"sort"
	"sync"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
)

// Nest sorts object keys with ('' + a).localeCompare(b): ICU collation for
// the process locale (en-US in every capture we have), default options. That
// is the CLDR root order at tertiary strength with punctuation
// non-ignorable: "_x" < "-x" < "1" < "10" < "2" < "a" < "A" < "a_b" < "a-b"
// < "ab" < "b" < "B". x/text/collate with default options implements the same
// algorithm and agrees with ICU on ASCII and the Latin, Greek and Cyrillic
// ranges (checked against Node 20 on several hundred thousand string pairs).
// Newer scripts, unassigned code points, Han in supplementary planes and
// Unicode-version-dependent weights may order differently, as may digits of
// other scripts, which ICU holds equal to ASCII digits and x/text does not.

// collationTag is the locale whose collation Nest's keys follow. English has
// no tailoring, so this is the CLDR root order.
var collationTag = language.English

// newCollator returns a collator for key ordering. A collate.Collator keeps
// per-call buffers and is not safe for concurrent use; each pooled parse
// state owns one.
func newCollator() *collate.Collator {
	return collate.New(collationTag)
}

// asciiWeight is the collation of one ASCII byte: its primary rank (0 for a
// completely ignorable control character) and its tertiary rank among the
// bytes of equal primary ('a' before 'A').
type asciiWeight struct {
	primary, tertiary uint8
}

// asciiTable derives the ASCII weights from x/text itself, so the fast path
// below cannot drift from the general one; tests compare the two.
var asciiTable = sync.OnceValue(func() *[128]asciiWeight {
	c := newCollator()
	loose := collate.New(collationTag, collate.Loose)
	var chars []string
	for b := 0; b < 128; b++ {
		s := string(rune(b))
		if c.CompareString(s, "") != 0 {
			chars = append(chars, s)
		}
	}
	sort.SliceStable(chars, func(i, j int) bool {
		return c.CompareString(chars[i], chars[j]) < 0
	})
	t := new([128]asciiWeight)
	var primary, tertiary uint8
	for i, s := range chars {
		switch {
		case i == 0:
			primary = 1
		case loose.CompareString(chars[i-1], s) != 0:
			primary++
			tertiary = 0
		default:
			tertiary++
		}
		t[s[0]] = asciiWeight{primary, tertiary}
	}
	return t
})

// compareASCII compares two ASCII strings as the collator does: primary
// weights first, skipping ignorable bytes, then the tertiary (case) weights
// of the same positions. ASCII has no contractions, expansions or secondary
// differences in the root collation, so this is the whole algorithm.
//
// A common prefix is skipped first: each byte has fixed weights, so equal
// bytes add the same primary and tertiary weights on both sides and cannot
// decide the comparison. Keys that share a long prefix then cost a byte
// comparison per byte rather than a table walk.
func compareASCII(t *[128]asciiWeight, a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	a, b = a[n:], b[n:]
	i, j, tert := 0, 0, 0
	for {
		for i < len(a) && t[a[i]].primary == 0 {
			i++
		}
		for j < len(b) && t[b[j]].primary == 0 {
			j++
		}
		if i == len(a) || j == len(b) {
			break
		}
		wa, wb := t[a[i]], t[b[j]]
		if wa.primary != wb.primary {
			if wa.primary < wb.primary {
				return -1
			}
			return 1
		}
		if tert == 0 && wa.tertiary != wb.tertiary {
			tert = 1
			if wa.tertiary < wb.tertiary {
				tert = -1
			}
		}
		i++
		j++
	}
	switch {
	case i < len(a):
		return 1
	case j < len(b):
		return -1
	}
	return tert
}

// isASCII reports whether b has no byte above 0x7F.
func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// compareKeys orders two keys as localeCompare does, within the limits
// noted above. Two more differences: x/text sorts U+FFFD before the letters
// (ICU after nearly everything), and it reads a lone surrogate, kept here in
// its WTF-8 form, as an invalid sequence, so all lone surrogates collate
// equal to one another (ICU orders them by code point).
func (st *state) compareKeys(a, b []byte) int {
	if isASCII(a) && isASCII(b) {
		return compareASCII(asciiTable(), a, b)
	}
	if st.coll == nil {
		st.coll = newCollator()
	}
	return st.coll.Compare(a, b)
}
