package structjson

import "testing"

// Types that reach the fast path only because they marshal themselves,
// of kinds whose omitempty test encoding/json's isEmptyValue also covers:
// an array (empty when its length is 0) and a uintptr (empty when 0).
type (
	emptyArrayMarshaler [0]int
	uintptrMarshaler    uintptr
	emptyArrayText      [0]string
	uintptrText         uintptr
)

func (emptyArrayMarshaler) MarshalJSON() ([]byte, error) { return []byte(`"array"`), nil }
func (uintptrMarshaler) MarshalJSON() ([]byte, error)    { return []byte(`"uintptr"`), nil }
func (emptyArrayText) MarshalText() ([]byte, error)      { return []byte("array"), nil }
func (uintptrText) MarshalText() ([]byte, error)         { return []byte("uintptr"), nil }

// TestAppendOmitEmptyMarshalerKinds: omitempty drops a field by its kind
// whatever its methods, as encoding/json's isEmptyValue does: a
// zero-length array and a zero uintptr are empty, not only strings,
// numbers, slices, maps, pointers and interfaces.
func TestAppendOmitEmptyMarshalerKinds(t *testing.T) {
	type omit struct {
		A  emptyArrayMarshaler `json:"a,omitempty"`
		U  uintptrMarshaler    `json:"u,omitempty"`
		AT emptyArrayText      `json:"at,omitempty"`
		UT uintptrText         `json:"ut,omitempty"`
		N  uintptrMarshaler    `json:"n,omitempty"`
	}
	for _, v := range []any{omit{}, &omit{N: 1}, []omit{{UT: 2}}, map[string]any{"k": omit{U: 3}}} {
		if !checkEncode(t, v) {
			t.Errorf("%#v: not encoded by the fast path", v)
		}
	}
}
