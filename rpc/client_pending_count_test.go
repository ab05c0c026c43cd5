package rpc

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestClientPendingForTestIsASnapshot: ClientPendingForTest (which
// TestClientHeartbeatPingsIgnored uses to assert "at most the one current
// ping") counts the ids pending at one instant. Here exactly one id is
// pending at any instant: the heartbeat loop's pattern of forgetting the
// answered ping and registering the next one.
func TestClientPendingForTestIsASnapshot(t *testing.T) {
	c, cc := pipeClientConn(t)
	c.slots[0].mu.Lock()
	c.slots[0].conn = cc
	c.slots[0].mu.Unlock()

	id, err := cc.register(&call{ping: true})
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			cc.forget(id)                            // the answered ping...
			c.ids.Add(7)                             // (calls made in between take ids)
			id, err = cc.register(&call{ping: true}) // ...and the next
			if err != nil {
				return
			}
		}
	}()
	// Look for 2 s at most (an effort bound, not a timing assertion).
	for i, end := 0, time.Now().Add(2*time.Second); time.Now().Before(end); i++ {
		if n := ClientPendingForTest(c); n > 1 {
			stop.Store(true)
			<-done
			t.Fatalf("ClientPendingForTest = %d with one id pending at any instant (look %d)", n, i)
		}
	}
	stop.Store(true)
	<-done
}
