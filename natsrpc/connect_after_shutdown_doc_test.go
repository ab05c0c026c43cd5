package natsrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestConnectAfterShutdownDialsNothing: docs/SERVER.md says Start after
// Shutdown returns rpc.ErrServerClosed, "and so do natsrpc.Serve and
// natsrpc.Connect". Connect dialled NATS first and decided after, so with
// the NATS server unreachable (or its credentials refused) it reported
// that failure instead, and with it reachable it opened a connection to
// it for nothing.
func TestConnectAfterShutdownDialsNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://" + ln.Addr().String()
	ln.Close() // nobody listens there now

	dead := rpc.NewServer(&rpc.Config{}, quietLogger())
	dead.Handle("sum", rpc.Func(func(json.RawMessage) (any, error) { return 0, nil }))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := dead.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := natsrpc.Connect(dead, url)
	if err == nil {
		s.Close()
	}
	if !errors.Is(err, rpc.ErrServerClosed) {
		t.Errorf("natsrpc.Connect on a shut-down rpc.Server: %v, want rpc.ErrServerClosed", err)
	}
}
