package rpc_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestErrorfWrapsEveryCause: Errorf's godoc says "%w wraps a cause as
// fmt.Errorf does", and fmt.Errorf wraps every %w operand (Go 1.20+).
// Errorf kept errors.Unwrap(err) as the Cause, which is nil for an error
// wrapping several, so errors.Is and errors.As found none of them.
func TestErrorfWrapsEveryCause(t *testing.T) {
	a, b := errors.New("a"), errors.New("b")
	std := fmt.Errorf("x: %w, %w", a, b)
	e := rpc.Errorf("x: %w, %w", a, b)
	for _, target := range []error{a, b} {
		if errors.Is(std, target) && !errors.Is(e, target) {
			t.Errorf("errors.Is(rpc.Errorf(\"x: %%w, %%w\", a, b), %v) = false; fmt.Errorf's is true", target)
		}
	}
	if e.Message != std.Error() {
		t.Errorf("Message = %q, want %q", e.Message, std.Error())
	}
	// One %w keeps its cause as before.
	if one := rpc.Errorf("y: %w", a); one.Cause != a {
		t.Errorf("rpc.Errorf(\"y: %%w\", a).Cause = %v, want a", one.Cause)
	}
}
