package rpc

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"testing"
)

type depthA struct{ X int }
type depthB struct{ depthA }
type depthD struct{ depthA }
type depthC struct{ X string }

// depthT1: depthA.X and depthC.X (both at depth 1) conflict, so
// encoding/json drops X; depthB's copy of depthA (depth 2) is hidden.
type depthT1 struct {
	depthB
	depthA
	depthC
}

// depthT2: depthA embedded twice at depth 2: encoding/json drops its fields.
type depthT2 struct {
	depthB
	depthD
}

type tagEdgeInner struct{ A int }

// tagEdgeUnexportedEmbed: an unexported embedded struct with a json name
// is a named field to encoding/json ("e": {"A": ...}), both ways.
type tagEdgeUnexportedEmbed struct {
	tagEdgeInner `json:"e"`
	C            int
}

// tagEdgeInvalidName: a json name encoding/json finds invalid (a quote) is
// ignored: the Go name is used.
type tagEdgeInvalidName struct {
	//lint:ignore SA5008 the malformed name is the case under test
	B int `json:"a'b"`
}

// TestSchemaFieldsMatchEncodingJSON: the schema's properties are the keys
// encoding/json writes. Embedded structs were walked depth first, each
// type once where met first, so a type embedded directly and also inside
// another was judged at the deeper depth, and one embedded twice at the
// same depth did not hide its own fields (depthT1, depthT2 listed X); an
// unexported embedded struct with a json name was left out, and names
// encoding/json ignores were used.
func TestSchemaFieldsMatchEncodingJSON(t *testing.T) {
	for _, v := range []any{
		depthT1{}, depthT2{},
		tagEdgeUnexportedEmbed{tagEdgeInner{1}, 2}, tagEdgeInvalidName{3},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		want := slices.Sorted(maps.Keys(m))
		props, _ := jsonSchema(reflect.TypeOf(v))["properties"].(map[string]any)
		got := slices.Sorted(maps.Keys(props))
		if !slices.Equal(got, want) {
			t.Errorf("%T: schema properties %q, encoding/json writes %s (keys %q)", v, got, b, want)
		}
	}
}

type quotedPI *int

type quotedDepths struct {
	//lint:ignore SA5008 encoding/json ignores ,string here: the case under test
	PP **int    `json:"pp,string"`
	NP quotedPI `json:"np,string"`
	P  *int     `json:"p,string"`
}

// TestSchemaStringOptionDepth: encoding/json honours ,string on a bool,
// number or string reached through at most one unnamed pointer; the schema
// followed every pointer, and described **int and a named pointer type as
// strings where encoding/json writes numbers.
func TestSchemaStringOptionDepth(t *testing.T) {
	i := 7
	pi := &i
	v := quotedDepths{PP: &pi, NP: quotedPI(&i), P: &i}
	b, _ := json.Marshal(v)
	var m map[string]any
	json.Unmarshal(b, &m)
	props := jsonSchema(reflect.TypeOf(v))["properties"].(map[string]any)
	for k, val := range m {
		_, isStr := val.(string)
		typ := props[k].(map[string]any)["type"]
		if isStr != (typ == "string") {
			t.Errorf("%s: encoding/json writes %v (%T), schema says type %v (%s)", k, val, val, typ, b)
		}
	}
}
