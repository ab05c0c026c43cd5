package pattern

import (
	"sort"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"
)

// Nest sorts object keys with ('' + a).localeCompare(b): ICU collation for
// the process locale (en-US in every capture we have), default options. That
// is the CLDR root order at tertiary strength with punctuation
// non-ignorable: "_x" < "-x" < "1" < "10" < "2" < "a" < "A" < "a_b" < "a-b"
// < "ab" < "b" < "B". x/text/collate with default options implements the same
// algorithm and agrees with ICU on ASCII and the Latin, Greek and Cyrillic
// ranges (checked against Node 20 on several hundred thousand string pairs),
// once the Cyrillic letters with a diacritic are rewritten (see
// cyrillicSplit) and but for the exceptions listed in the package
// documentation.
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
	if needsCollationForm(a) || needsCollationForm(b) {
		a, b = collationForm(nil, a), collationForm(nil, b)
	}
	return st.coll.Compare(a, b)
}

// Cyrillic letters with a diacritic. x/text's tables give these letters a
// primary weight of their own, after their base letter (ї after і and
// before й, ќ after к), and contract the base letter and the mark to it;
// the ICU in Node orders them as their canonical decomposition, the base
// letter with a secondary difference for the mark: "їжак" < "ірис" and
// "ўa" < "уб" for ICU, the other way round for x/text. ё, й, ѐ and ѝ are not
// among them: both order those alike. collationForm rewrites a key so that
// x/text sees the base letter, U+034F COMBINING GRAPHEME JOINER (completely
// ignorable, and it blocks the contraction) and the mark, which it orders
// as ICU does.
var cyrillicSplit = func() map[rune][2]rune {
	m := map[rune][2]rune{}
	for _, r := range []rune{
		0x0403, 0x0407, 0x040C, 0x040E, 0x0453, 0x0457, 0x045C, 0x045E,
		0x0476, 0x0477, 0x04D0, 0x04D1, 0x04D2, 0x04D3, 0x04D6, 0x04D7,
		0x04DA, 0x04DB, 0x04DC, 0x04DD, 0x04DE, 0x04DF, 0x04E4, 0x04E5,
		0x04E6, 0x04E7, 0x04EA, 0x04EB, 0x04EC, 0x04ED, 0x04F0, 0x04F1,
		0x04F2, 0x04F3, 0x04F4, 0x04F5, 0x04F8, 0x04F9,
	} {
		d := []rune(norm.NFD.String(string(r)))
		m[r] = [2]rune{d[0], d[1]}
	}
	return m
}()

// cyrillicPair holds the (base letter, mark) pairs of cyrillicSplit, which
// x/text contracts when they come decomposed.
var cyrillicPair = func() map[[2]rune]bool {
	m := map[[2]rune]bool{}
	for _, d := range cyrillicSplit {
		m[d] = true
	}
	return m
}()

const cgj = '\u034F'

// collationForm returns k, or k rewritten into buf as described at
// cyrillicSplit when it holds one of those letters. Bytes that are not
// valid UTF-8 (lone surrogates in WTF-8) are copied as they are.
func collationForm(buf, k []byte) []byte {
	if !needsCollationForm(k) {
		return k
	}
	out := buf[:0]
	prev := rune(-1)
	for i := 0; i < len(k); {
		r, n := utf8.DecodeRune(k[i:])
		switch d, ok := cyrillicSplit[r]; {
		case n == 1 && r == utf8.RuneError:
			out = append(out, k[i])
			r = -1
		case ok:
			out = utf8.AppendRune(out, d[0])
			out = utf8.AppendRune(out, cgj)
			out = utf8.AppendRune(out, d[1])
			r = -1
		case cyrillicPair[[2]rune{prev, r}]:
			out = utf8.AppendRune(out, cgj)
			out = utf8.AppendRune(out, r)
			r = -1
		default:
			out = append(out, k[i:i+n]...)
		}
		prev = r
		i += n
	}
	return out
}

// needsCollationForm reports whether collationForm would change k.
func needsCollationForm(k []byte) bool {
	prev := rune(-1)
	for i := 0; i < len(k); {
		c := k[i]
		if c < 0x80 {
			prev = rune(c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(k[i:])
		if _, ok := cyrillicSplit[r]; ok || cyrillicPair[[2]rune{prev, r}] {
			return true
		}
		prev = r
		i += n
	}
	return false
}
