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

// TestClientConnectionClosedFailsCalls: when the client's NATS connection
// closes, a pending call fails at once with ErrConnectionLost, and Close
// still returns. nats.go does not report a subscription closed with its
// connection on the status channel the client used to watch, so calls
// waited out their deadlines and Close hung forever.
func TestClientConnectionClosedFailsCalls(t *testing.T) {
	ns := natstest.Run(t, nil)
	responder := connect(t, ns.ClientURL())
	if _, err := responder.Subscribe("silent", func(*nats.Msg) {}); err != nil { // takes requests, never answers
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
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- c.Send(ctx, "silent", nil, nil)
	}()
	time.Sleep(200 * time.Millisecond) // the call is pending
	start := time.Now()
	nc.Close()
	err = <-done
	if waited := time.Since(start); !errors.Is(err, rpc.ErrConnectionLost) || waited > time.Second {
		t.Errorf("the pending call ended %v after the connection closed, with %v; want ErrConnectionLost at once", waited, err)
	}
	if err := c.Send(context.Background(), "silent", nil, nil); !errors.Is(err, rpc.ErrConnectionLost) {
		t.Errorf("a call after the connection closed: %v; want ErrConnectionLost", err)
	}
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		t.Fatal("Close still blocks 3s after the connection closed")
	}
}

// TestClientStreamBufferBound: a responder publishes far more stream
// values than a slow consumer takes; the call ends with ErrStreamOverflow
// once its unread values pass WithMaxStreamBuffer, instead of the client
// buffering them all, and the client still serves other calls.
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

	c := natstest.Dial(t, ns.ClientURL(), natsrpc.WithMaxStreamBuffer(limit))
	taken, streamErr := streamtest.SlowConsumer(t, c.Stream(context.Background(), "flood", nil), size, flooded, 200*time.Millisecond)
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
// them while the consumer held its first value.
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
	c, err := natsrpc.NewClient(connect(t, ns.ClientURL()), natsrpc.WithMaxStreamBuffer(1<<10))
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
		if grew == 0 {
			<-flooded
			time.Sleep(time.Second) // the client has received them
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
