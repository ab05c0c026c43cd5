package rpc

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"testing"
)

type tagEdgeInner struct{ A int }

// An unexported embedded struct with a json name is a named field to
// encoding/json ("e": {"A": ...}), both ways.
type tagEdgeUnexportedEmbed struct {
	tagEdgeInner `json:"e"`
	C            int
}

// A json name encoding/json finds invalid (a quote) is ignored: the Go
// name is used.
type tagEdgeInvalidName struct {
	B int `json:"a'b"`
}

// TestSchemaTagEdgesMatchEncodingJSON: the schema left out an unexported
// embedded struct with a json name, and used names encoding/json finds
// invalid (and ignores).
func TestSchemaTagEdgesMatchEncodingJSON(t *testing.T) {
	for _, v := range []any{tagEdgeUnexportedEmbed{tagEdgeInner{1}, 2}, tagEdgeInvalidName{3}} {
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
