package rpc_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

type ancestorNode struct {
	Name     string          `json:"name"`
	Children []ancestorChild `json:"children"`
}

// ancestorChild embeds the type that contains it: encoding/json
// promotes ancestorNode's fields ("name", "children") into it.
type ancestorChild struct {
	ancestorNode
	Extra int `json:"extra"`
}

// TestSchemaEmbeddedAncestorKeepsPromotedFields: a first version of the
// dominant-field walk skipped an embedded struct whose type was in `seen`,
// which holds every struct type on the path from the schema's root, not
// just embedded ones. So a type embedding one of its ancestors (Child
// embeds Node, Node holds []Child) lost every promoted field: the schema of
// a child said {"extra"} where encoding/json writes {"name","children",
// "extra"}. Only the recursion is cut.
func TestSchemaEmbeddedAncestorKeepsPromotedFields(t *testing.T) {
	enc, _ := json.Marshal(ancestorChild{ancestorNode{Name: "a"}, 1})
	var want map[string]any
	json.Unmarshal(enc, &want)
	if _, ok := want["name"]; !ok {
		t.Fatalf("encoding/json premise: %s", enc)
	}

	s := rpc.NewServer(&rpc.Config{}, discardLogger())
	s.Handle("tree", rpc.Typed(func(_ context.Context, v ancestorNode) (int, error) { return 0, nil }))
	var schema struct {
		Properties struct {
			Children struct {
				Items struct {
					Properties map[string]any `json:"properties"`
				} `json:"items"`
			} `json:"children"`
		} `json:"properties"`
	}
	for _, pi := range s.Patterns(true) {
		if pi.Pattern == "tree" {
			if err := json.Unmarshal(pi.Input, &schema); err != nil {
				t.Fatal(err)
			}
			child := schema.Properties.Children.Items.Properties
			if _, ok := child["name"]; !ok {
				t.Errorf("schema of a child (Node embedded in Child, Child in Node) lacks the promoted field \"name\" that encoding/json writes (%s): %s", enc, pi.Input)
			}
			return
		}
	}
	t.Fatal("pattern tree not listed")
}
