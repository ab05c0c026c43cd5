package natsrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/internal/streamtest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// allDelivered returns a channel closed once nc has received want messages
// and c's inbox has handed each to deliver: what a slow consumer waits for
// instead of a guessed pause.
func allDelivered(t *testing.T, nc *nats.Conn, c *natsrpc.Client, after <-chan struct{}, want uint64) <-chan struct{} {
	ctx := t.Context() // ends before the test's cleanups: the goroutine does not outlive it
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-after:
		case <-ctx.Done():
			return
		}
		for deadline := time.Now().Add(60 * time.Second); ctx.Err() == nil; time.Sleep(time.Millisecond) {
			if nc.Stats().InMsgs >= want && natsrpc.InboxIdle(c) {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("the client did not receive and deliver %d messages within 60 s (got %d)", want, nc.Stats().InMsgs)
				return
			}
		}
	}()
	return done
}

// TestClientConnectionClosedFailsCalls: when the client's NATS connection
// closes, a pending call fails with ErrConnectionLost (not at its
// deadline), and Close still returns. nats.go does not report a
// subscription closed with its connection on the status channel the client
// used to watch, so calls waited out their deadlines and Close hung
// forever.
func TestClientConnectionClosedFailsCalls(t *testing.T) {
	ns := natstest.Run(t, nil)
	responder := connect(t, ns.ClientURL())
	got := make(chan struct{}, 1)
	if _, err := responder.Subscribe("silent", func(*nats.Msg) { // takes requests, never answers
		select {
		case got <- struct{}{}:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	responder.Flush()

	nc := connect(t, ns.ClientURL())
	c, err := natsrpc.NewClient(nc)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		// A deadline far past the test's waits: ending there is the bug.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- c.Send(ctx, "silent", nil, nil)
	}()
	<-got // the request reached the responder: the call is pending
	nc.Close()
	if err := <-done; !errors.Is(err, rpc.ErrConnectionLost) {
		t.Errorf("the pending call ended with %v after the connection closed; want ErrConnectionLost", err)
	}
	if err := c.Send(context.Background(), "silent", nil, nil); !errors.Is(err, rpc.ErrConnectionLost) {
		t.Errorf("a call after the connection closed: %v; want ErrConnectionLost", err)
	}
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close still blocks 30 s after the connection closed")
	}
}

// TestClientStreamBufferBound: a responder publishes far more stream
// values than a slow consumer takes; the call ends with ErrStreamOverflow
// once its unread values pass WithMaxStreamBuffer, instead of the client
// buffering them all, and the client still serves other calls. The
// consumer holds its first value until the client has received and
// delivered every value, so the outcome does not depend on the machine's
// speed.
func TestClientStreamBufferBound(t *testing.T) {
	ns := natstest.Run(t, nil)
	startInstance(t, ns.ClientURL(), rpc.Config{})
	const values, size, limit = 4096, 1 << 10, 256 << 10
	value := `"` + strings.Repeat("x", size-2) + `"`
	responder := connect(t, ns.ClientURL())
	flooded := make(chan struct{})
	if _, err := responder.Subscribe("flood", func(m *nats.Msg) {
		go func() {
			defer close(flooded)
			for range values {
				responder.Publish(m.Reply, []byte(`{"response":`+value+`,"id":"1"}`))
			}
			responder.Publish(m.Reply, []byte(`{"isDisposed":true,"id":"1"}`))
			responder.Flush()
		}()
	}); err != nil {
		t.Fatal(err)
	}
	responder.Flush()

	nc := connect(t, ns.ClientURL())
	c, err := natsrpc.NewClient(nc, natsrpc.WithMaxStreamBuffer(limit))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	received := allDelivered(t, nc, c, flooded, values+1)
	taken, streamErr := streamtest.SlowConsumer(t, c.Stream(context.Background(), "flood", nil), size, received, 0)
	t.Logf("took %d of %d values, then %v", taken, values, streamErr)
	streamtest.CheckOverflow(t, taken, streamErr, rpc.ErrStreamOverflow, limit, size)
	if sum, err := rpc.Call[[]float64, float64](context.Background(), c, "sum", []float64{1, 2}); err != nil || sum != 3 {
		t.Errorf("a call after the overflow: %v, %v; want 3", sum, err)
	}
}

// requestID is the raw id of the request packet m carries, which a NestJS
// server echoes in each reply.
func requestID(m *nats.Msg) string {
	var p struct {
		ID json.RawMessage `json:"id"`
	}
	json.Unmarshal(m.Data, &p)
	return string(p.ID)
}

// TestClientUndefinedValuesBounded: a reply message with no value that
// does not end the call ({"id":"1"}) is how a NestJS server sends a stream
// value that is undefined; a NestJS 12 ClientProxy delivers it, and so do
// we, as null. Each is held to WithMaxStreamBuffer like any value: they once
// counted 0 bytes, and a responder made one stream call hold 46 MiB of
// them while the consumer held its first value. The heap is measured once
// the client has received and delivered every message of the flood.
func TestClientUndefinedValuesBounded(t *testing.T) {
	ns := natstest.Run(t, nil)
	responder := connect(t, ns.ClientURL())
	const n = 50_000
	flooded := make(chan struct{})
	if _, err := responder.Subscribe("flood", func(m *nats.Msg) {
		id := requestID(m)
		go func() {
			defer close(flooded)
			responder.Publish(m.Reply, []byte(`{"response":1,"id":`+id+`}`))
			for range n {
				responder.Publish(m.Reply, []byte(`{"id":`+id+`}`))
			}
			responder.Publish(m.Reply, []byte(`{"isDisposed":true,"id":`+id+`}`))
			responder.Flush()
		}()
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := responder.Subscribe("voids", func(m *nats.Msg) {
		id := requestID(m)
		for range 3 {
			responder.Publish(m.Reply, []byte(`{"id":`+id+`}`))
		}
		responder.Publish(m.Reply, []byte(`{"isDisposed":true,"id":`+id+`}`))
	}); err != nil {
		t.Fatal(err)
	}
	responder.Flush()
	nc := connect(t, ns.ClientURL())
	c, err := natsrpc.NewClient(nc, natsrpc.WithMaxStreamBuffer(1<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var got []string
	for v, err := range c.Stream(context.Background(), "voids", nil) {
		if err != nil {
			t.Fatalf("voids: %v", err)
		}
		got = append(got, string(v))
	}
	if want := []string{"null", "null", "null"}; !slices.Equal(got, want) {
		t.Errorf("voids yielded %q, want %q (undefined, three times)", got, want)
	}

	before := streamtest.HeapAlloc()
	received := allDelivered(t, nc, c, flooded, nc.Stats().InMsgs+n+2)
	var grew uint64
	values := 0
	var streamErr error
	for v, err := range c.Stream(context.Background(), "flood", nil) {
		if err != nil {
			streamErr = err
			break
		}
		if values > 0 && string(v) != "null" {
			t.Errorf("value %d is %s, want null", values, v)
		}
		values++
		if values == 1 {
			<-received // the client has received and delivered them all
			grew = streamtest.HeapAlloc() - min(before, streamtest.HeapAlloc())
		}
	}
	t.Logf("heap grew %d KiB while the consumer held its first value; %d values, then %v", grew>>10, values, streamErr)
	if !errors.Is(streamErr, rpc.ErrStreamOverflow) || values > 1<<10/96+1 {
		t.Errorf("%d values, then %v; want at most %d (the buffer's worth), then ErrStreamOverflow", values, streamErr, 1<<10/96+1)
	}
	if grew > 2<<20 {
		t.Errorf("the client held %d KiB of undefined values for one stream call", grew>>10)
	}
}
