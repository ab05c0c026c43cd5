package loadtest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/loadtest"
)

// TestRunAddressWithoutPort: Run takes "host:port", as rpc.NewClient does,
// and says so of an address without a port. "127.0.0.1:" used to be dialled
// as port 0, the run failing with "connect: connection refused" on
// 127.0.0.1:0, which names no cause (msgpattern send says "missing port").
func TestRunAddressWithoutPort(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:", "localhost", ""} {
		_, err := loadtest.Run(context.Background(), loadtest.Config{Addr: addr, Requests: 1, Pattern: []byte(`"x"`)})
		if err == nil || !strings.Contains(err.Error(), "want host:port") {
			t.Errorf("Addr %q: error %v; want one that says the address is not host:port", addr, err)
		}
	}
}
