package natsrpc_test

import (
	"net"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestPendingLimitFollowsMaxPayload: each subscription's pending byte
// limit is at least the NATS server's max_payload, so that a message always
// fits. The NATS server restarts with a larger max_payload: a request that
// the new server takes must not be dropped by nats.go as a slow consumer
// with every handler idle.
func TestPendingLimitFollowsMaxPayload(t *testing.T) {
	ns := natstest.Run(t, nil) // max_payload 1 MiB
	port := ns.Addr().(*net.TCPAddr).Port
	url := ns.ClientURL()
	fast := natsrpc.WithNATSOptions(nats.ReconnectWait(20*time.Millisecond), nats.MaxReconnects(-1))
	in := startInstance(t, url, rpc.Config{MemoryBudget: 8 << 20}, fast)
	c := natstest.Dial(t, url, natsrpc.WithConnOptions(fast))
	ns.Shutdown()
	ns.WaitForShutdown()
	natstest.Run(t, func(o *natsserver.Options) { o.Port = port; o.MaxPayload = 4 << 20 })
	for deadline := time.Now().Add(10 * time.Second); in.nats.Conn().MaxPayload() != 4<<20 || c == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not reconnected")
		}
	}
	time.Sleep(200 * time.Millisecond)
	got, err := rpc.Call[string, string](ctxT(t, 3*time.Second), c, "echo", strings.Repeat("x", 2<<20))
	if err != nil || len(got) != 2<<20 {
		t.Errorf("2 MiB request under the new 4 MiB max_payload: %d bytes, %v (dropped by nats.go: %d)", len(got), err, in.nats.Dropped())
	}
}
