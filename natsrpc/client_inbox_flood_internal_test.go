//go:build !(aix || plan9 || (freebsd && !cgo && !amd64 && !arm64))

package natsrpc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestClientInboxFloodBounded: any responder a Client calls learns its
// inbox prefix from the reply subject, and may then publish empty messages
// to inbox.<4 KB token>. nats.go counts only data and headers against a
// subscription's byte limit, so with no message limit (the inbox had -1)
// every such message queued while the delivery goroutine was behind (here
// held on the client's lock, as a busy client is) stayed queued, 4 KB of
// subject each, without bound. Now the inbox holds at most its 64 MiB, and
// the call pending when messages were dropped fails with
// nats.ErrSlowConsumer rather than wait out its deadline or, for a stream,
// go on without a value. A call made after that is served.
func TestClientInboxFloodBounded(t *testing.T) {
	const n, subj = 30000, 4000
	const bound = 64 << 20 // the inbox's byte limit: nothing should hold more
	ns := runNATS(t)
	c, err := Dial(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	attacker, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()

	// A plain NATS responder: "hold" answers once released, "echo" at once.
	release := make(chan struct{})
	var releaseOnce bool
	defer func() {
		if !releaseOnce {
			close(release)
		}
	}()
	if _, err := attacker.Subscribe("hold", func(m *nats.Msg) {
		<-release
		_ = m.Respond([]byte("1"))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := attacker.Subscribe("echo", func(m *nats.Msg) { _ = m.Respond([]byte("2")) }); err != nil {
		t.Fatal(err)
	}
	if err := attacker.Flush(); err != nil {
		t.Fatal(err)
	}

	// The held call's deadline is far past the waits below: under -race on
	// a loaded machine the flood and its delivery took over 30 s (the
	// call's old deadline, which it then reported instead of the slow
	// consumer), and a call that hangs must fail as one ("still waits").
	held := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		var out int
		held <- c.Send(ctx, "hold", nil, &out)
	}()
	waitHeldCall(t, c)

	c.mu.Lock() // the delivery goroutine falls behind
	locked := true
	defer func() {
		if locked {
			c.mu.Unlock()
		}
	}()
	token := strings.Repeat("t", subj-len(c.inbox))
	for range n {
		if err := attacker.Publish(c.inbox+token, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := attacker.Flush(); err != nil {
		t.Fatal(err)
	}
	// Wait until the client has received them all (queued or dropped).
	var msgs, dropped int
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		msgs, _, _ = c.sub.Pending()
		dropped, _ = c.sub.Dropped()
		if msgs+dropped >= n || time.Now().After(deadline) {
			break
		}
	}
	c.mu.Unlock()
	locked = false
	limMsgs, limBytes, _ := c.sub.PendingLimits()
	t.Logf("inbox pending limits %d msgs / %d bytes; queued %d messages (%d MiB of subjects), dropped %d", limMsgs, limBytes, msgs, int64(msgs)*subj>>20, dropped)
	if int64(msgs)*subj > bound {
		t.Errorf("the client's inbox queued %d empty messages from one peer, %d MiB of subjects (pending limit %d messages): past its %d MiB", msgs, int64(msgs)*subj>>20, limMsgs, bound>>20)
	}
	if dropped == 0 {
		t.Fatalf("nothing dropped: %d of %d messages queued (no limit on messages, or it was not reached)", msgs, n)
	}

	select {
	case err := <-held:
		if !errors.Is(err, nats.ErrSlowConsumer) {
			t.Errorf("the call pending when the inbox dropped messages: %v, want an error wrapping nats.ErrSlowConsumer", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the call pending when the inbox dropped messages still waits")
	}
	close(release)
	releaseOnce = true

	// Its reply comes after the queued flood is delivered: slow under -race.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out int
	if err := c.Send(ctx, "echo", nil, &out); err != nil || out != 2 {
		t.Fatalf("a call after the flood: %d, %v; want 2", out, err)
	}
}

// waitHeldCall waits until c has one call pending: the held one.
func waitHeldCall(t *testing.T, c *Client) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		c.mu.Lock()
		pending := len(c.pending)
		c.mu.Unlock()
		if pending == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the held call never became pending")
		}
	}
}
