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

// T1.depthA.X (depth 1) and T1.depthC.X (depth 1) conflict: encoding/json
// drops X. depthB's copy of depthA (depth 2) is hidden.
type depthT1 struct {
	depthB
	depthA
	depthC
}

// depthA embedded twice at depth 2: encoding/json drops its fields.
type depthT2 struct {
	depthB
	depthD
}

// TestSchemaEmbeddedDepthMatchesEncodingJSON: embedded structs were walked
// depth first, each type once wherever met first, so a type embedded
// directly and also inside another was judged at the deeper depth, and one
// embedded twice at the same depth was not seen to collide with itself:
// the schema listed X where encoding/json writes neither.
func TestSchemaEmbeddedDepthMatchesEncodingJSON(t *testing.T) {
	for _, v := range []any{depthT1{}, depthT2{}} {
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
			t.Errorf("%T: schema properties %v, encoding/json writes %s (keys %v)", v, got, b, want)
		}
	}
}
