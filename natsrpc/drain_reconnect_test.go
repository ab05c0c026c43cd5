package natsrpc_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestDrainSurvivesReconnect: the NATS server restarts while an instance's
// Shutdown drains its subscriptions (slow handlers, a request queued behind
// the concurrency cap). nats.go resubscribes a draining subscription on
// reconnect, so the NATS server takes it for a member of the queue group
// again; once Shutdown has returned, nothing may be left subscribed on the
// connection (Serve's, which stays the caller's): new requests must go to
// the other instance, not to a subscription nobody reads.
func TestDrainSurvivesReconnect(t *testing.T) {
	ns := natstest.Run(t, nil)
	port := ns.Addr().(*net.TCPAddr).Port
	url := ns.ClientURL()
	fast := []nats.Option{nats.ReconnectWait(20 * time.Millisecond), nats.MaxReconnects(-1)}

	leaving := &instance{srv: rpc.NewServer(&rpc.Config{RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger())}
	registerTestHandlers(leaving)
	leavingConn := connect(t, url, fast...) // the caller's: Serve does not close it
	ls, err := natsrpc.Serve(leaving.srv, leavingConn, natsrpc.WithMaxConcurrent(1))
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	c := natstest.Dial(t, url, natsrpc.WithConnOptions(natsrpc.WithNATSOptions(fast...)))

	// Two slow requests to the leaving instance, alone in the group: one
	// runs, the other waits behind the cap, so its drain takes a while.
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rpc.Call[int, string](ctxT(t, 10*time.Second), c, "slow", 1000)
		}()
	}
	for deadline := time.Now().Add(5 * time.Second); leaving.started.Load() < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("slow request not started")
		}
	}
	time.Sleep(50 * time.Millisecond)
	startInstance(t, url, rpc.Config{}, natsrpc.WithNATSOptions(fast...))

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- ls.Shutdown(ctx)
	}()
	for !natsrpc.Stopping(ls) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the drain has begun (UNSUB sent)
	ns.Shutdown()
	ns.WaitForShutdown()
	ns2 := natstest.Run(t, func(o *natsserver.Options) { o.Port = port })
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	wg.Wait()
	if !leavingConn.IsConnected() {
		t.Fatal("the leaving instance's connection did not reconnect")
	}
	cz, _ := ns2.Connz(&natsserver.ConnzOptions{Subscriptions: true, CID: leavingConnCID(t, leavingConn)})
	for _, ci := range cz.Conns {
		if len(ci.Subs) > 0 {
			t.Errorf("after Shutdown, the NATS server still has subscriptions of the instance: %v", ci.Subs)
		}
	}
	lost := 0
	for i := range 20 {
		_, err := rpc.Call[int, string](ctxT(t, 500*time.Millisecond), c, "slow", i%2)
		if errors.Is(err, rpc.ErrNoHandler) { // the staying instance not yet back
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of 20 calls after the drained instance's Shutdown were lost (%v): the NATS server still routes them to its subscription", lost, context.DeadlineExceeded)
	}
}

func leavingConnCID(t *testing.T, nc *nats.Conn) uint64 {
	id, err := nc.GetClientID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}
