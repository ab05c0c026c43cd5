package natsrpc_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestShutdownDisconnectedServesReceived: the package doc says Shutdown
// "serves the messages already received, then returns" — during a NATS
// outage too. Shutdown used to Unsubscribe at once without a connection,
// and nats.go discarded the messages in the subscription's pending queue
// (received, waiting behind the concurrency cap); the one the callback held
// at the cap was dropped once Shutdown waited for the workers. Here 5
// events were received: all 5 must be served.
func TestShutdownDisconnectedServesReceived(t *testing.T) {
	ns := natstest.Run(t, nil)
	nc := connect(t, ns.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger())
	release := make(chan struct{})
	var entered, served atomic.Int64
	srv.HandleEvent("evt", rpc.HandlerFunc(func(ctx context.Context, _ rpc.ResponseWriter, _ *rpc.Request) error {
		entered.Add(1)
		<-release
		served.Add(1)
		return nil
	}))
	s, err := natsrpc.Serve(srv, nc, natsrpc.WithMaxConcurrent(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); srv.Close() })

	pub := connect(t, ns.ClientURL())
	const n = 5
	for range n {
		pub.Publish("evt", []byte(`{"pattern":"evt","data":1}`))
	}
	pub.Flush()
	// All 5 received by the server's process: 1 running, 1 in the callback
	// at the cap, 3 behind it in the subscription's pending queue (nats.go
	// counts the one in the callback as pending too).
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m, _ := natsrpc.PendingBytes(s); entered.Load() == 1 && m == n-1 {
			break
		}
		if time.Now().After(deadline) {
			m, _ := natsrpc.PendingBytes(s)
			t.Fatalf("not all received: entered %d, pending %d", entered.Load(), m)
		}
		time.Sleep(5 * time.Millisecond)
	}
	ns.Shutdown() // a NATS outage during a rolling restart
	ns.WaitForShutdown()
	for nc.IsConnected() {
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	for !natsrpc.Stopping(s) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := served.Load(); got != n {
		t.Errorf("Shutdown served %d of the %d events this process had received; want all (\"serves the messages already received\")", got, n)
	}
}
