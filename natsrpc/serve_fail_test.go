package natsrpc_test

import (
	"encoding/json"
	"net"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestFailedServeLeavesNothing: a Serve that fails (here: its subscriptions
// cannot be flushed, the NATS server being down) leaves nothing on the
// caller's connection. Its discovery subscriptions stayed, so once NATS was
// back a service that never started answered `nats micro info`.
func TestFailedServeLeavesNothing(t *testing.T) {
	t.Parallel() // waits out the connection's 10 s flush timeout
	ns := natstest.Run(t, nil)
	port := ns.Addr().(*net.TCPAddr).Port
	nc := connect(t, ns.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	ns.Shutdown()
	ns.WaitForShutdown()
	for nc.IsConnected() {
		time.Sleep(10 * time.Millisecond)
	}
	srv := rpc.NewServer(nil, quietLogger())
	srv.Handle("sum", rpc.Func(func(json.RawMessage) (any, error) { return 1, nil }))
	if s, err := natsrpc.Serve(srv, nc, natsrpc.WithService("ghost", "1.0.0", "")); err == nil {
		s.Close()
		t.Fatal("Serve succeeded without a NATS server")
	}
	natstest.Run(t, func(o *natsserver.Options) { o.Port = port })
	deadline := time.Now().Add(10 * time.Second)
	for !nc.IsConnected() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("reconnected connection: %v", err)
	}
	other := connect(t, nc.ConnectedUrl())
	if rep, err := other.Request("$SRV.INFO.ghost", nil, time.Second); err == nil {
		t.Errorf("a Serve that returned an error answers discovery: %s", rep.Data)
	}
	if rep, err := other.Request("sum", []byte(`{"pattern":"sum","data":1,"id":"1"}`), 200*time.Millisecond); err == nil {
		t.Errorf("a Serve that returned an error answers requests: %s", rep.Data)
	}
}
