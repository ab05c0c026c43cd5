package pattern

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/collate"
)

// TestCollationKeysAgree checks what sortKeyed relies on: comparing two
// collation keys as bytes gives the sign the collator's Compare gives for
// the strings, for the golden pairs and for random strings rich in what
// makes collation hard: combining marks (in and out of canonical order, and
// more than the 30 the collator reorders), contractions, expansions,
// Hangul syllables and conjoining jamo, ignorables, lone surrogates and
// invalid UTF-8.
func TestCollationKeysAgree(t *testing.T) {
	t.Parallel()
	coll := newCollator()
	var buf collate.Buffer
	check := func(a, b []byte) {
		t.Helper()
		buf.Reset()
		ka := coll.Key(&buf, a)
		kb := coll.Key(&buf, b)
		if got, want := sign(bytes.Compare(ka, kb)), sign(coll.Compare(a, b)); got != want {
			t.Fatalf("keys of %+q and %+q compare %d; Compare gives %d", a, b, got, want)
		}
	}

	f, err := os.Open(filepath.Join("testdata", "collation.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var pair [3]any
		if err := json.Unmarshal(sc.Bytes(), &pair); err != nil {
			t.Fatal(err)
		}
		check([]byte(pair[0].(string)), []byte(pair[1].(string)))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}

	alphabet := []string{
		"a", "A", "b", "e", "é", "e\u0301", "\u0301", "\u0323", "\u0308", "\u0327",
		"_", "-", " ", "\x00", "\x01", "\x7f", "0", "9", "١", "०",
		"ß", "ss", "æ", "ae", "Å", "ŉ", "ǅ", "ﬁ", "ｆ", "½",
		"л", "Л", "ё", "ω", "ώ", "ᾳ",
		"가", "각", "\u1100", "\u1161", "\u11a8", "힣", "ㄱ",
		"ก", "เ", "ข", "ແ", "ກ", "ل", "ا", "ﻻ", "ח",
		"中", "𠀀", "😀", "\ufffd", "\u200b", "\u00ad",
		"\xed\xa0\x80", "\xed\xbf\xbf", "\xff", "\xc3",
		"l·", "·", "ch", "ľ", "\u0f71", "\u0f72", "\u0f73", "\u0f80",
	}
	r := rand.New(rand.NewPCG(3, 4))
	word := func() []byte {
		var w []byte
		for range r.IntN(8) {
			w = append(w, alphabet[r.IntN(len(alphabet))]...)
		}
		if r.IntN(50) == 0 {
			w = append(w, strings.Repeat("\u0323\u0301", 20+r.IntN(10))...)
		}
		return w
	}
	for range 100000 {
		a, b := word(), word()
		if r.IntN(2) == 0 {
			b = append(a[:len(a):len(a)], b[:min(len(b), 4)]...)
		}
		check(a, b)
	}
}

// TestSortKeyedMatchesCompare checks that routing objects with non-ASCII
// keys orders them exactly as the insertion sort with compareKeys does.
func TestSortKeyedMatchesCompare(t *testing.T) {
	t.Parallel()
	keys := []string{
		"a", "A", "é", "e\u0301", "E", "ä", "a\u0001", "a\u0308", "b", "_x", "-x",
		"10", "2", "가", "각", "\u1100\u1161", "ㄱ", "\xed\xa0\x80", "\xed\xb0\x80",
		"\ufffd", "中", "ß", "ss", "cmd", "Cmd", "ω", "л", "ก", "เก",
	}
	r := rand.New(rand.NewPCG(5, 6))
	st := new(state)
	ref := new(state)
	for range 20000 {
		// Up to 20 distinct keys, some built of two parts.
		n := 1 + r.IntN(nestMaxKeys)
		seen := map[string]bool{}
		var names []string
		for len(names) < n {
			k := keys[r.IntN(len(keys))]
			if r.IntN(3) == 0 {
				k += keys[r.IntN(len(keys))]
			}
			if !seen[k] {
				seen[k] = true
				names = append(names, k)
			}
		}
		raw := []byte("{")
		for i, k := range names {
			if i > 0 {
				raw = append(raw, ',')
			}
			raw = appendJSONString(raw, []byte(k))
			raw = append(raw, ":1"...)
		}
		raw = append(raw, '}')

		st.reset()
		p := st.parser(raw)
		root, ok := p.parse()
		if !ok {
			t.Fatalf("parse %q failed", raw)
		}
		v := &st.values[root]
		var arr [nestMaxKeys]int32
		got := st.keyOrder(arr[:0], v)

		// The reference: Object.keys order, then the stable insertion sort
		// with compareKeys that keyOrder used for every object.
		var src []int32
		for i := v.lo; i < v.hi; i++ {
			src = append(src, i)
		}
		want := objectKeysOrder(st, src)
		for i := 1; i < len(want); i++ {
			mi := want[i]
			j := i
			for ; j > 0 && ref.compareKeys(st.bytes(st.in, st.members[want[j-1]].key), st.bytes(st.in, st.members[mi].key)) > 0; j-- {
				want[j] = want[j-1]
			}
			want[j] = mi
		}
		if !slices.Equal(got, want) {
			t.Fatalf("keys of %q: order %v; the reference gives %v", raw, got, want)
		}
	}
}

// objectKeysOrder reorders member indexes, given in source order, as
// Object.keys does: array indexes first, in numeric order, then the rest.
func objectKeysOrder(st *state, src []int32) []int32 {
	var idx, rest []int32
	for _, mi := range src {
		if _, ok := arrayIndex(st.bytes(st.in, st.members[mi].key)); ok {
			idx = append(idx, mi)
		} else {
			rest = append(rest, mi)
		}
	}
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0; j-- {
			a, _ := arrayIndex(st.bytes(st.in, st.members[idx[j-1]].key))
			b, _ := arrayIndex(st.bytes(st.in, st.members[idx[j]].key))
			if a < b {
				break
			}
			idx[j-1], idx[j] = idx[j], idx[j-1]
		}
	}
	return append(idx, rest...)
}
