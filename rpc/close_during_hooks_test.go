package rpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestCloseDuringShutdownHurriesHooks: Close, called while a graceful
// Shutdown is still running the transports' OnShutdown hooks (a NATS drain),
// must tell those hooks to stop at once, as Close does for a hook it runs
// itself (an ended context). Instead the hooks keep Shutdown's context, so
// a transport goes on draining — refusing each message it hands over —
// long after Close returned.
func TestCloseDuringShutdownHurriesHooks(t *testing.T) {
	s := rpc.NewServer(&rpc.Config{RetryAttempts: -1}, discardLogger())
	hookCtx := make(chan context.Context, 1)
	s.OnShutdown(func(ctx context.Context) {
		hookCtx <- ctx
		<-ctx.Done() // a transport draining until told to hurry
	})
	sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go s.Shutdown(sctx)
	hctx := <-hookCtx
	s.Close()
	select {
	case <-hctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Close returned, but the OnShutdown hook's context is still live: the transport keeps draining")
	}
}
