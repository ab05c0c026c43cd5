//go:build !(aix || plan9 || (freebsd && !cgo && !amd64 && !arm64))

package natsrpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestCloseDuringShutdownStops: Close "stops at once: … handlers still
// running have their contexts cancelled, and a connection dialled by
// Connect is closed". Called while a graceful Shutdown waits for a handler
// (the usual second signal after a first one began a graceful stop), it
// returned at once having closed nothing: the connection stayed open as
// long as the handler ran (and a drain in progress, its subscriptions).
func TestCloseDuringShutdownStops(t *testing.T) {
	ns := natstest.Run(t, nil)
	srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1}, quietLogger())
	defer srv.Close()
	started, release := make(chan struct{}), make(chan struct{})
	srv.Handle("stubborn", rpc.Func(func(json.RawMessage) (any, error) {
		close(started)
		<-release // ignores its context
		return "late", nil
	}))
	nsrv, err := natsrpc.Connect(srv, ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	c := natstest.Dial(t, ns.ClientURL())
	go c.Send(ctxT(t, 5*time.Second), "stubborn", nil, nil)
	<-started
	done := make(chan error, 1)
	go func() { done <- nsrv.Shutdown(context.Background()) }()
	for !natsrpc.Stopping(nsrv) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // the graceful Shutdown waits for the handler
	nsrv.Close()
	closed := nsrv.Conn().IsClosed()
	close(release)
	<-done
	if !closed {
		t.Fatal("Close returned with the connection dialled by Connect still open (a graceful Shutdown was waiting for a handler)")
	}
}
