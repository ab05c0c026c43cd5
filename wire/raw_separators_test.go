package wire_test

import (
	"encoding/json"
	"testing"

	"github.com/msgpattern/msgpattern/wire"
)

// docs/PROTOCOL.md: "Values are written as JSON.stringify writes them: <, >,
// &, U+2028 and U+2029 raw"; AppendJSON: "U+2028/U+2029 are written raw".
// A json.RawMessage nested in a value gets its escaped separators written
// raw (the encoding/json fallback's fix-up), but a top-level RawMessage —
// what rpc.Func/ResponseWriter.Send and rpc.Error.Payload send — keeps
// them escaped. node: JSON.stringify(JSON.parse('"a\\u2028b"')) is the raw
// character.
func TestAppendJSONRawMessageLineSeparatorsRaw(t *testing.T) {
	raw := json.RawMessage(`{"k":"a\u2028b\u2029c"}`)
	want := "{\"k\":\"a\u2028b\u2029c\"}"
	nested, err := wire.AppendJSON(nil, []json.RawMessage{raw})
	if err != nil {
		t.Fatal(err)
	}
	if string(nested) != "["+want+"]" {
		t.Errorf("nested: AppendJSON = %q, want %q", nested, "["+want+"]")
	}
	top, err := wire.AppendJSON(nil, raw)
	if err != nil {
		t.Fatal(err)
	}
	if string(top) != want {
		t.Errorf("top-level: AppendJSON = %q, want %q (as nested, and as JSON.stringify writes it)", top, want)
	}
}
