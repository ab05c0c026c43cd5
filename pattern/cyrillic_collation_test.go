package pattern_test

import (
	"encoding/json"
	"testing"

	"github.com/msgpattern/msgpattern/pattern"
)

// TestRouteCyrillicDiacritics checks the key order of Cyrillic letters with
// a diacritic (Ukrainian ї, Belarusian ў, Macedonian ѓ and ќ, and ӓ, ӧ, ӱ…)
// against what NestJS 12.1.1 on Node 20 (ICU) computed: ICU orders ї as і
// with a diaeresis, x/text's tables as a letter of its own after і.
func TestRouteCyrillicDiacritics(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ raw, want string }{
		{`{"ірис":1,"їжак":2}`, `{"їжак":2,"ірис":1}`},
		{`{"уб":1,"ўa":2}`, `{"ўa":2,"уб":1}`},
		{`{"кб":1,"ќa":2}`, `{"ќa":2,"кб":1}`},
		{`{"іb":1,"і\u0308a":2}`, "{\"і\u0308a\":2,\"іb\":1}"},
		{`{"аб":1,"ӓa":2,"гб":3,"ѓa":4}`, `{"ӓa":2,"аб":1,"ѓa":4,"гб":3}`},
		{`{"їa":1,"й":2}`, `{"їa":1,"й":2}`},
	} {
		got, ok := pattern.Route([]byte(c.raw), nil)
		if !ok || string(got) != c.want {
			t.Errorf("Route(%s) = %s, %v; NestJS: %s", c.raw, got, ok, c.want)
		}
		if reg, err := pattern.Of(json.RawMessage(c.raw)); err != nil || reg != c.want {
			t.Errorf("Of(%s) = %s, %v; NestJS: %s", c.raw, reg, err, c.want)
		}
	}
}
