package natsrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/rpc"
)

// A handler that calls runtime.Goexit ends the worker goroutine that
// called Dispatch. The message it held must still be given back to the
// memory budget (a large one is charged to it), or each such request
// leaks its size from the budget for good.
func TestGoexitHandlerReleasesMessageMemory(t *testing.T) {
	t.Parallel()
	ns := natstest.Run(t, nil)
	srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger())
	srv.Handle("goexit", rpc.Func(func(json.RawMessage) (any, error) {
		runtime.Goexit()
		return nil, nil
	}))
	natstest.Serve(t, srv, ns.ClientURL())
	c := natstest.Dial(t, ns.ClientURL())
	pad := strings.Repeat("x", 64<<10) // over the 4 KiB served without the budget
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := rpc.Call[string, any](ctx, c, "goexit", pad)
		cancel()
		var re *rpc.Error
		if !errors.As(err, &re) {
			t.Fatalf("call: %v, want the remote Internal server error", err)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); srv.GetMetrics().Limits.MemoryHeldBytes != 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if h := srv.GetMetrics().Limits.MemoryHeldBytes; h != 0 {
		t.Errorf("memory held %d bytes after the handlers exited; want 0", h)
	}
}
