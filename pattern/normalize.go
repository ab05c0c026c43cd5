package pattern

import (
	"bytes"
	"sync"

	"golang.org/x/text/collate"
)

// This file turns a parsed value into its route key, as Nest's
// transformPatternToRoute does, and holds the reusable parse state.

// state is everything one route computation needs. States are pooled so that
// routing an object pattern does not allocate once the pool is warm.
type state struct {
	in      []byte // the input that non-buffered spans refer to
	values  []value
	members []member
	pend    []member
	frames  []frame
	buf     []byte // decoded strings and generated array keys
	content []byte // a decoded string pattern, parsed a second time
	coll    *collate.Collator

	// The collation keys of the members of the object being sorted, when
	// some key is not ASCII: sortKeyed computes each once, so that sorting
	// costs the collator one pass over each key rather than one per
	// comparison. ckeys point into kbuf; kbytes counts the bytes of keys
	// and collation keys since the state was last pooled, which bounds
	// what kbuf and the collator hold on to.
	kbuf   *collate.Buffer
	ckeys  [nestMaxKeys][]byte
	kascii [nestMaxKeys]bool
	kbytes int
	form   []byte // a key rewritten by collationForm
}

// maxPooledBytes keeps one huge pattern from pinning its buffers in the pool.
const maxPooledBytes = 64 << 10

var statePool = sync.Pool{New: func() any { return new(state) }}

func getState() *state {
	return statePool.Get().(*state)
}

func putState(st *state) {
	st.in = nil // do not keep the caller's bytes alive
	st.reset()
	st.content = st.content[:0]
	if st.kbytes > maxPooledBytes {
		// The collator keeps the collation elements of the longest key it
		// has seen, and kbuf the longest run of keys: start afresh.
		st.coll, st.kbuf, st.ckeys, st.form = nil, nil, [nestMaxKeys][]byte{}, nil
	}
	st.kbytes = 0
	if cap(st.buf) > maxPooledBytes || cap(st.content) > maxPooledBytes ||
		cap(st.values) > maxPooledBytes/32 || cap(st.members)+cap(st.pend) > maxPooledBytes/16 ||
		cap(st.frames) > maxPooledBytes/32 {
		// Drop the oversized state but keep its collator, which is costly to make.
		st = &state{coll: st.coll}
	}
	statePool.Put(st)
}

// reset forgets the previous parse but keeps st.content.
func (st *state) reset() {
	st.values = st.values[:0]
	st.members = st.members[:0]
	st.pend = st.pend[:0]
	st.frames = st.frames[:0]
	st.buf = st.buf[:0]
}

// parser returns a parser over in with Nest's limits.
func (st *state) parser(in []byte) parser {
	st.in = in
	return parser{st: st, in: in, maxDepth: nestMaxDepth, maxKeys: nestMaxKeys}
}

func (st *state) add(v value) int32 {
	st.values = append(st.values, v)
	return int32(len(st.values) - 1)
}

func (st *state) bytes(in []byte, s span) []byte {
	if s.inBuf {
		return st.buf[s.lo:s.hi]
	}
	return in[s.lo:s.hi]
}

// appendValue appends the route form of value vi when it is not the whole
// pattern: strings are quoted and escaped, null and booleans are literal.
func (st *state) appendValue(dst []byte, vi int32) []byte {
	v := &st.values[vi]
	switch v.kind {
	case kindNull:
		return append(dst, "null"...)
	case kindTrue:
		return append(dst, "true"...)
	case kindFalse:
		return append(dst, "false"...)
	case kindNumber:
		return AppendNumber(dst, v.num)
	case kindString:
		dst = append(dst, '"')
		dst = appendEscaped(dst, st.bytes(st.in, v.str))
		return append(dst, '"')
	case kindMaxDepth:
		return append(dst, "[MAX_DEPTH_REACHED]"...)
	case kindTooMany:
		return append(dst, "[TOO_MANY_KEYS]"...)
	}
	return st.appendObject(dst, v)
}

// appendObject writes {"k":v,...} with the keys in route order. Nest quotes
// and escapes every key; arrays get their indexes as keys.
func (st *state) appendObject(dst []byte, v *value) []byte {
	var arr [nestMaxKeys]int32
	order := st.keyOrder(arr[:0], v)
	dst = append(dst, '{')
	for i, mi := range order {
		if i > 0 {
			dst = append(dst, ',')
		}
		m := st.members[mi]
		dst = append(dst, '"')
		dst = appendEscaped(dst, st.bytes(st.in, m.key))
		dst = append(dst, '"', ':')
		dst = st.appendValue(dst, m.val)
	}
	return append(dst, '}')
}

// appendEscaped escapes backslashes and double quotes, the only characters
// Nest (>= 11.1.18) escapes; control characters stay raw.
func appendEscaped(dst, s []byte) []byte {
	for _, c := range s {
		if c == '\\' || c == '"' {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return dst
}

// keyOrder appends the member indexes of v to order in the order Nest writes
// them: Object.keys order, then a stable sort by localeCompare. Object.keys
// puts array-index keys ("0", "7", never "07") first in numeric order, then
// the other keys in insertion order; that order shows only for keys the
// collation holds equal, such as "a" and "a\u0001".
func (st *state) keyOrder(order []int32, v *value) []int32 {
	key := func(mi int32) []byte { return st.bytes(st.in, st.members[mi].key) }
	if v.kind == kindArray {
		for i := v.lo; i < v.hi; i++ {
			order = append(order, i)
		}
	} else {
		for i := v.lo; i < v.hi; i++ {
			idx, ok := arrayIndex(key(i))
			if !ok {
				continue
			}
			j := len(order)
			order = append(order, i)
			for ; j > 0; j-- {
				prev, _ := arrayIndex(key(order[j-1]))
				if prev < idx {
					break
				}
				order[j] = order[j-1]
			}
			order[j] = i
		}
		for i := v.lo; i < v.hi; i++ {
			if _, ok := arrayIndex(key(i)); !ok {
				order = append(order, i)
			}
		}
	}
	if len(order) <= nestMaxKeys && v.kind == kindObject {
		for _, mi := range order {
			if !isASCII(key(mi)) {
				st.sortKeyed(order, v.lo)
				return order
			}
		}
	}
	// Insertion sort: stable, no allocation, and at most 20 keys.
	for i := 1; i < len(order); i++ {
		mi := order[i]
		k := key(mi)
		j := i
		for ; j > 0 && st.compareKeys(key(order[j-1]), k) > 0; j-- {
			order[j] = order[j-1]
		}
		order[j] = mi
	}
	return order
}

// sortKeyed sorts order, member indexes of an object whose members start at
// lo, of which some key is not ASCII, as keyOrder's insertion sort with
// compareKeys would. It computes each key's collation key once and compares
// those bytes: the collator's Compare walks both keys through the collation
// tables on every call, which for 20 long keys in reverse order (190
// comparisons) cost microseconds per byte of pattern. Comparing keys is the
// same comparison: with the default options (no identical level, no
// quaternary level, not backwards), Compare and Key both compare the
// primary, then the secondary, then the tertiary weights of the same
// collation elements, and Key encodes each level so that byte order is
// weight order, a shorter level before a longer one with the same prefix
// (TestCollationKeysAgree checks this against Compare). Pairs of ASCII keys
// still use compareASCII, so no result changes.
func (st *state) sortKeyed(order []int32, lo int32) {
	if st.coll == nil {
		st.coll = newCollator()
	}
	if st.kbuf == nil {
		st.kbuf = new(collate.Buffer)
	}
	st.kbuf.Reset()
	for _, mi := range order {
		k := st.bytes(st.in, st.members[mi].key)
		if needsCollationForm(k) {
			st.form = collationForm(st.form[:0], k)
			k = st.form
		}
		ck := st.coll.Key(st.kbuf, k)
		st.ckeys[mi-lo], st.kascii[mi-lo] = ck, isASCII(k)
		st.kbytes += len(k) + len(ck)
	}
	tab := asciiTable()
	after := func(a, b int32) bool { // whether member a sorts after member b
		ia, ib := a-lo, b-lo
		if st.kascii[ia] && st.kascii[ib] {
			return compareASCII(tab, st.bytes(st.in, st.members[a].key), st.bytes(st.in, st.members[b].key)) > 0
		}
		return bytes.Compare(st.ckeys[ia], st.ckeys[ib]) > 0
	}
	for i := 1; i < len(order); i++ {
		mi := order[i]
		j := i
		for ; j > 0 && after(order[j-1], mi); j-- {
			order[j] = order[j-1]
		}
		order[j] = mi
	}
}

// arrayIndex reports whether s is an array index in JavaScript's sense: the
// canonical decimal form of an integer from 0 to 2^32-2.
func arrayIndex(s []byte) (uint32, bool) {
	if len(s) == 0 || len(s) > 10 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var n uint64
	for _, c := range s {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > 1<<32-2 {
		return 0, false
	}
	return uint32(n), true
}
