package structjson

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

// wide16 is the "struct of 16 string fields" of docs/SERVER.md's bound.
type wide16 struct{ A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P string }

// liveAfter reports the heap bytes still reachable from what decode returns.
func liveAfter(decode func() any) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := decode()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	return after.HeapAlloc - before.HeapAlloc
}

// TestOneElementArraysRetainNoMoreThanEncodingJSON: decodeSlice gives every
// slice room for 4 elements on its first element, whatever their size, so
// "[[{}],[{}],…]" into [][]wide16 keeps 4×256 bytes per 5 input bytes
// alive while the handler runs: about 4 times what encoding/json keeps, and
// above docs/SERVER.md's "up to about 180" bytes per byte.
func TestOneElementArraysRetainNoMoreThanEncodingJSON(t *testing.T) {
	const n = 1 << 15
	doc := []byte("[" + strings.Repeat(`[{}],`, n-1) + "[{}]]")
	perByte := func(b uint64) float64 { return float64(b) / float64(len(doc)) }
	ours := perByte(liveAfter(func() any {
		var v [][]wide16
		if err := Unmarshal(doc, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}))
	theirs := perByte(liveAfter(func() any {
		var v [][]wide16
		if err := json.Unmarshal(doc, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}))
	t.Logf("retained per input byte: structjson %.0f, encoding/json %.0f", ours, theirs)
	if ours > 1.5*theirs || ours > 180 {
		t.Errorf("structjson keeps %.0f bytes per input byte alive, encoding/json %.0f (docs/SERVER.md: up to about 180)", ours, theirs)
	}
}
