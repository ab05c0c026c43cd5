package structjson

import "testing"

// Named pointer types have no methods: encoding/json's indirect finds an
// UnmarshalJSON or UnmarshalText only on the addressed value's pointer
// type, so through a PJ it decodes the valJSON (or valText) as the struct
// it is, without calling the method.
type (
	namedPtrJSON *valJSON
	namedPtrText *valText
)

type withNamedPtrs struct {
	J namedPtrJSON
	T namedPtrText
}

func TestNamedPointerToUnmarshaler(t *testing.T) {
	types := map[string]func() any{
		"withNamedPtrs":  func() any { return new(withNamedPtrs) },
		"namedPtrJSON":   func() any { return new(namedPtrJSON) },
		"[]namedPtrText": func() any { return new([]namedPtrText) },
	}
	for name, newV := range types {
		for _, doc := range []string{
			`{"J":{"S":"x"}}`, `{"J":"x"}`, `{"T":{"S":"y"}}`, `{"T":"y"}`, `{"J":null,"T":null}`,
			`{"S":"top"}`, `"top"`, `[{"S":"a"},null]`, `["a"]`,
		} {
			diffOne(t, name, newV, []byte(doc))
		}
	}
}
