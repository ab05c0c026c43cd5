package pattern

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/text/collate"
)

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// TestCompareASCII checks the ASCII fast path against the collator it was
// derived from: every pair of strings of up to one byte, then random strings
// over an alphabet rich in ignorable, punctuation and case differences.
func TestCompareASCII(t *testing.T) {
	t.Parallel()
	tab := asciiTable()
	coll := newCollator()
	check := func(a, b []byte) {
		t.Helper()
		if got, want := compareASCII(tab, a, b), sign(coll.Compare(a, b)); got != want {
			t.Fatalf("compareASCII(%q, %q) = %d; the collator says %d", a, b, got, want)
		}
	}
	singles := [][]byte{{}}
	for c := range 128 {
		singles = append(singles, []byte{byte(c)})
	}
	for _, a := range singles {
		for _, b := range singles {
			check(a, b)
		}
	}
	const alphabet = "aAbBzZ09_-. \t\x00\x01\x7f\"\\/:@[`{~"
	r := rand.New(rand.NewPCG(1, 2))
	word := func() []byte {
		w := make([]byte, r.IntN(6))
		for i := range w {
			if r.IntN(4) == 0 {
				w[i] = byte(r.IntN(128))
			} else {
				w[i] = alphabet[r.IntN(len(alphabet))]
			}
		}
		return w
	}
	for range 200000 {
		a := word()
		b := word()
		if r.IntN(2) == 0 {
			b = append(a[:len(a):len(a)], b[:min(len(b), 2)]...)
		}
		check(a, b)
	}
}

// TestCollationGolden replays testdata/collation.txt: the sign of
// a.localeCompare(b) in Node (ICU) for random pairs over the characters the
// generated routes use (testdata/gen.mjs).
func TestCollationGolden(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join("testdata", "collation.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st := new(state)
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		var pair [3]any
		if err := json.Unmarshal(sc.Bytes(), &pair); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		a, b, want := pair[0].(string), pair[1].(string), int(pair[2].(float64))
		if got := sign(st.compareKeys([]byte(a), []byte(b))); got != want {
			t.Errorf("line %d: compareKeys(%+q, %+q) = %d; localeCompare gives %d", n, a, b, got, want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// FuzzCollate checks that key comparison is antisymmetric and that the ASCII
// fast path agrees with the collator.
func FuzzCollate(f *testing.F) {
	f.Add([]byte("a_b"), []byte("a-b"))
	f.Add([]byte("cmd"), []byte("Cmd"))
	f.Add([]byte("a\x00"), []byte("a"))
	f.Add([]byte("é"), []byte("e\u0301"))
	f.Add([]byte("їжак"), []byte("ірис"))
	f.Add([]byte("a\xed\xa0\x80"), []byte("a\ufffd"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		st := new(state)
		ab, ba := sign(st.compareKeys(a, b)), sign(st.compareKeys(b, a))
		if ab != -ba {
			t.Fatalf("compareKeys(%q, %q) = %d but compareKeys(%q, %q) = %d", a, b, ab, b, a, ba)
		}
		if isASCII(a) && isASCII(b) {
			if want := sign(newCollator().Compare(a, b)); ab != want {
				t.Fatalf("compareASCII(%q, %q) = %d; the collator says %d", a, b, ab, want)
			}
			return
		}
		// What sortKeyed relies on: the collation keys of the keys' forms,
		// compared as bytes, order them as compareKeys does.
		var buf collate.Buffer
		ka := st.coll.Key(&buf, collationForm(nil, a))
		kb := st.coll.Key(&buf, collationForm(nil, b))
		if got := sign(bytes.Compare(ka, kb)); got != ab {
			t.Fatalf("collation keys of %+q and %+q compare %d; compareKeys gives %d", a, b, got, ab)
		}
	})
}
