package rpc_test

import (
	"context"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestPatternsListsUserRoutesWithReservedPrefix: Server.Patterns
// "describes the registered patterns other than the reserved ones" — the
// three introspection patterns. It left out every route whose key merely
// begins with "msgpattern:", so an application's own "msgpattern:orders"
// (or, with Introspection off, its own "msgpattern:list") was missing from
// msgpattern:list and `msgpattern list`, though it is served.
func TestPatternsListsUserRoutesWithReservedPrefix(t *testing.T) {
	for _, introspection := range []bool{false, true} {
		s := rpc.NewServer(&rpc.Config{Introspection: introspection}, discardLogger())
		s.Handle("msgpattern:orders", rpc.Typed(func(context.Context, int) (int, error) { return 1, nil }))
		want := map[string]bool{"msgpattern:orders": true}
		if !introspection {
			s.Handle(rpc.ListPattern, rpc.Typed(func(context.Context, int) (int, error) { return 1, nil }))
			want[rpc.ListPattern] = true
		}
		got := map[string]bool{}
		for _, pi := range s.Patterns(false) {
			if pi.Pattern == rpc.HealthPattern || pi.Pattern == rpc.StatsPattern || introspection && pi.Pattern == rpc.ListPattern {
				t.Errorf("Introspection=%v: reserved pattern %q listed", introspection, pi.Pattern)
			}
			got[pi.Pattern] = true
		}
		for p := range want {
			if !got[p] {
				t.Errorf("Introspection=%v: Patterns() leaves out the application's route %q", introspection, p)
			}
		}
	}
}
