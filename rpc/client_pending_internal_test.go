package rpc

import (
	"errors"
	"net"
	"testing"
)

// TestRegisterAfterFailRefused: once a connection has failed, a call is
// refused at registration, whichever shard of the pending table its id
// falls in: fail empties the shards one by one, and a call slipped into
// one it had already emptied would wait for a reply that never comes.
func TestRegisterAfterFailRefused(t *testing.T) {
	_, cc := pipeClientConn(t)
	ids := make([]uint64, 0, pendingShards)
	for range pendingShards {
		id, err := cc.register(getCall(false))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	cc.fail(errors.New("peer gone"))
	<-cc.done
	for range 2 * pendingShards {
		if id, err := cc.register(getCall(false)); err == nil {
			t.Fatalf("call %d registered on a dead connection", id)
		} else if !errors.Is(err, ErrConnectionLost) {
			t.Fatalf("register on a dead connection: %v, want ErrConnectionLost", err)
		}
	}
	if n := cc.inflight.Load(); n != 0 {
		t.Errorf("in flight after fail: %d, want 0", n)
	}
	for _, id := range ids {
		sh := cc.pending.shard(id)
		sh.mu.Lock()
		ca := sh.calls[id]
		sh.mu.Unlock()
		if ca != nil {
			t.Errorf("call %d still pending after fail", id)
		}
	}
}

// pipeClientConn is a client (that never dials: no pings of its own) with
// one connection over a pipe whose other end nobody reads; the connection
// is failed at cleanup.
func pipeClientConn(t *testing.T) (*Client, *clientConn) {
	c, err := NewClient("127.0.0.1:1", WithHeartbeat(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	cc := newClientConn(c, a)
	t.Cleanup(func() {
		cc.fail(errors.New("test over"))
		<-cc.done
		b.Close()
		c.Close()
	})
	return c, cc
}
