package wire_test

import (
	"testing"

	"github.com/msgpattern/msgpattern/wire"
)

// TestReplyTruthiness: err and isDisposed are judged as a NestJS client
// judges them, by JavaScript truthiness (`if (isDisposed || err)`).
func TestReplyTruthiness(t *testing.T) {
	falsy := []string{`null`, `false`, `""`, `0`, `-0`, `0.0`, `-0.0`, `0e5`, `0E+5`, `-0.0e-3`, `0.000`, `1e-400`}
	truthy := []string{`true`, `1`, `-1`, `0.5`, `-0.001`, `1e-300`, `1e400`, `"0"`, `"false"`, `" "`, `{}`, `[]`, `[0]`, `{"a":null}`}
	for _, v := range falsy {
		r, _, err := wire.ParseReply([]byte(`{"err":`+v+`,"isDisposed":`+v+`,"id":1}`), 0)
		if err != nil || r.HasError() || r.IsDisposed || r.IsFinal() {
			t.Errorf("%s: HasError %t, IsDisposed %t (%v); JavaScript says falsy", v, r.HasError(), r.IsDisposed, err)
		}
	}
	for _, v := range truthy {
		r, _, err := wire.ParseReply([]byte(`{"err":`+v+`,"isDisposed":`+v+`,"id":1}`), 0)
		if err != nil || !r.HasError() || !r.IsDisposed {
			t.Errorf("%s: HasError %t, IsDisposed %t (%v); JavaScript says truthy", v, r.HasError(), r.IsDisposed, err)
		}
	}
	if r, _, _ := wire.ParseReply([]byte(`{"response":1,"id":1}`), 0); r.HasError() || r.IsDisposed {
		t.Error("absent err and isDisposed (undefined) must be falsy")
	}
}
