package loadtest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine they started (a run's
// connections, readers or workers) outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
