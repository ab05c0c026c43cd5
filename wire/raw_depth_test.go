package wire_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/wire"
)

// TestAppendJSONRawDepthAsEncodingJSON: a top-level json.RawMessage is
// "validated and compacted, as encoding/json does with one inside a
// struct": it encodes at the nesting encoding/json accepts (up to 10000
// levels), as the same RawMessage inside a slice does, and fails beyond.
func TestAppendJSONRawDepthAsEncodingJSON(t *testing.T) {
	for _, depth := range []int{1001, 10000, 10001} {
		raw := json.RawMessage(strings.Repeat("[", depth) + strings.Repeat("]", depth))
		_, wantErr := json.Marshal(raw)
		got, err := wire.AppendJSON(nil, raw)
		nested, nestedErr := wire.AppendJSON(nil, []json.RawMessage{raw})
		if (err != nil) != (wantErr != nil) || (nestedErr != nil) != (wantErr != nil) {
			t.Fatalf("depth %d: AppendJSON error %v, inside a slice %v; encoding/json's %v", depth, err, nestedErr, wantErr)
		}
		if err == nil && "["+string(got)+"]" != string(nested) {
			t.Fatalf("depth %d: top-level and nested RawMessage encode differently", depth)
		}
	}
}
