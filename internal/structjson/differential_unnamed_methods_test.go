package structjson

import "testing"

// An unnamed struct type gets methods only by embedding, and encoding/json
// looks for UnmarshalJSON and UnmarshalText on a value's address only when
// its type is named: a field, slice element or map value of an unnamed type
// is decoded as a struct (its embedded fields promoted), the method not
// called; behind a pointer it is called.
type withUnnamedMethods struct {
	J  struct{ valJSON }
	T  struct{ valText }
	V  struct{ byValJSON }
	SJ []struct{ valJSON }
	MT map[string]struct{ valText }
	PJ *struct{ valJSON }
}

func TestUnnamedTypeWithPromotedUnmarshaler(t *testing.T) {
	types := map[string]func() any{
		"withUnnamedMethods":  func() any { return new(withUnnamedMethods) },
		"struct{valJSON}":     func() any { return new(struct{ valJSON }) },
		"[]struct{valText}":   func() any { return new([]struct{ valText }) },
		"map struct{valJSON}": func() any { return new(map[string]struct{ valJSON }) },
	}
	for name, newV := range types {
		for _, doc := range []string{
			`{"J":{"S":"x"}}`, `{"J":"x"}`, `{"T":{"S":"y"}}`, `{"T":"y"}`, `{"V":{}}`, `{"V":5}`,
			`{"SJ":[{"S":"a"}]}`, `{"MT":{"k":{"S":"b"}}}`, `{"MT":{"k":"b"}}`, `{"PJ":{"S":"p"}}`,
			`{"S":"top"}`, `"top"`, `[{"S":"a"}]`, `["a"]`,
		} {
			diffOne(t, name, newV, []byte(doc))
		}
	}
}

func TestDoublePointerToUnmarshaler(t *testing.T) {
	type dp struct {
		J  **valJSON
		T  []*valText
		B  *byValJSON
		MJ map[string]**valJSON
	}
	for _, doc := range []string{`{"J":"x","T":["a",null],"B":1,"MJ":{"a":"y","b":null}}`, `{"J":null}`, `{"J":{"S":1}}`} {
		diffOne(t, "dp", func() any { return new(dp) }, []byte(doc))
	}
}
