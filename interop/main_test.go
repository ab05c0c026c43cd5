package interop_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: clients,
// servers, embedded NATS servers and the watchers of child processes must
// all be gone.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
