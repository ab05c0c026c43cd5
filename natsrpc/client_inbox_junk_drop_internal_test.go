//go:build !(aix || plan9 || (freebsd && !cgo && !amd64 && !arm64))

package natsrpc

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestClientInboxJunkDropFailsCalls: the Client documents that the calls
// pending when its reply inbox dropped messages fail with an error wrapping
// nats.ErrSlowConsumer. deliver only looked at the inbox's drop count for a
// message it took for a reply: when the messages queued after the drop are
// not JSON (a peer that learnt the inbox floods it with junk), none reached
// the check, and a call whose reply was among the dropped waited out its
// deadline.
func TestClientInboxJunkDropFailsCalls(t *testing.T) {
	// The inbox's limit is lowered to 2 MiB for the test (the client's is
	// 64), so that a few MiB of junk overflow it quickly even under -race.
	const n, limit = 12, 2 << 20
	ns := runNATS(t)
	c, err := Dial(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.sub.SetPendingLimits(-1, limit); err != nil {
		t.Fatal(err)
	}
	peer, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()

	release := make(chan struct{})
	replied := make(chan struct{})
	if _, err := peer.Subscribe("hold", func(m *nats.Msg) {
		<-release
		_ = m.Respond([]byte("1"))
		_ = peer.Flush()
		close(replied)
	}); err != nil {
		t.Fatal(err)
	}
	if err := peer.Flush(); err != nil {
		t.Fatal(err)
	}
	held := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		held <- c.Send(ctx, "hold", nil, nil)
	}()
	waitHeldCall(t, c)

	// Junk the delivery goroutine is slow to go through (each message
	// sanitised from invalid UTF-8 to three times its size, then found not
	// to be JSON), sent faster than it goes: the inbox queues 2 MiB of
	// it and drops the rest, and the reply that comes behind it.
	junk := bytes.Repeat([]byte{0xff}, 1<<20)
	for range n {
		if err := peer.Publish(c.inbox+"junk", junk); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	<-replied
	// The NATS server had the reply before the client's PONG: once Flush
	// returns, the client has read everything (queued or dropped).
	if err := c.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	msgs, _, _ := c.sub.Pending()
	dropped, _ := c.sub.Dropped()
	t.Logf("queued %d, dropped %d", msgs, dropped)
	if dropped == 0 {
		// Twelve MiB into a 2 MiB inbox, each message taking the client
		// milliseconds: not seen; the test would prove nothing.
		t.Fatalf("nothing dropped (%d queued): the client kept up with the flood", msgs)
	}
	// Everything queued is delivered (junk, ignored), then the call must
	// have failed: nothing else will come for it.
	for deadline := time.Now().Add(time.Minute); !InboxIdle(c); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the inbox never drained")
		}
	}
	select {
	case err := <-held:
		if !errors.Is(err, nats.ErrSlowConsumer) {
			t.Errorf("the call pending when the inbox dropped messages: %v, want an error wrapping nats.ErrSlowConsumer", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the call pending when the inbox dropped %d messages (its reply among them) still waits after the inbox drained", dropped)
	}
}
