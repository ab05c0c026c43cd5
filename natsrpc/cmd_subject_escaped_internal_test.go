package natsrpc

import (
	"slices"
	"testing"

	"github.com/msgpattern/msgpattern/pattern"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestCmdSubjectEscapedName: "a handler registered for "x" also answers
// subject {"cmd":"x"}, where a NestJS client sends {cmd: 'x'}" (doc.go),
// as the TCP router does for any x (TestCmdFallbackEscapedName). For a name
// holding '\' or '"', or a control character, no such subject was
// subscribed, though NestJS's subject for {cmd: x} is a valid NATS subject:
// the NestJS caller got "no responders".
func TestCmdSubjectEscapedName(t *testing.T) {
	for _, name := range []string{`C:\dir`, `say"hi"`, "a\x01b"} {
		want, err := pattern.Of(map[string]string{"cmd": name})
		if err != nil {
			t.Fatal(err)
		}
		if err := checkSubject(want); err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		subs, err := subjectsOf([]rpc.RouteInfo{{Key: name}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(subs, func(s subject) bool { return s.name == want && s.route == name }) {
			t.Errorf("handler for %q: subjects %v, want %s among them", name, subs, want)
		}
	}
}
