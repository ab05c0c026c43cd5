package rpc_test

import (
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestHeldReturnsToZero: after every kind of connection end —
// the peer closes mid-reply, it is dropped for not reading (WriteTimeout),
// a forced Shutdown cuts a stalled write — MemoryHeldBytes comes back to 0.
func TestHeldReturnsToZero(t *testing.T) {
	blob := strings.Repeat("r", 4<<20)
	cfg := rpc.Config{WriteTimeout: 500 * time.Millisecond, RateLimitPerSec: -1, RetryAttempts: -1}
	srv := rpc.NewServer(&cfg, discardLogger())
	registerExposure(srv, nil)
	srv.Handle("report", rpc.Func(func(json.RawMessage) (any, error) { return blob, nil }))
	ln := newPipeListener()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	zero := func(tag string) {
		t.Helper()
		if !eventually(10*time.Second, func() bool { return limits(srv).MemoryHeldBytes == 0 }) {
			t.Errorf("%s: memory_held_bytes %d, want 0", tag, limits(srv).MemoryHeldBytes)
		}
	}
	// The peer reads part of a reply and closes.
	c := ln.dial()
	go c.Write([]byte(reqFrame(`"report"`, `null`, `1`)))
	io.CopyN(io.Discard, c, 1<<20)
	c.Close()
	zero("peer closed mid-reply")

	// A stream to a peer that stops reading: dropped by WriteTimeout.
	c = ln.dial()
	go c.Write([]byte(reqFrame(`"flood"`, `[64,262144]`, `2`)))
	io.CopyN(io.Discard, c, 1<<20)
	zero("write timeout")
	c.Close()

	// Stalled writes cut by a forced Shutdown.
	cfg2 := rpc.Config{WriteTimeout: time.Minute, RateLimitPerSec: -1, RetryAttempts: -1}
	srv2 := rpc.NewServer(&cfg2, discardLogger())
	registerExposure(srv2, nil)
	ln2 := newPipeListener()
	served2 := make(chan error, 1)
	go func() { served2 <- srv2.Serve(ln2) }()
	for i := range 4 {
		c := ln2.dial()
		defer c.Close()
		go c.Write([]byte(reqFrame(`"flood"`, `[64,262144]`, strconv.Itoa(i))))
	}
	if !eventually(5*time.Second, func() bool { return limits(srv2).MemoryHeldBytes >= 1<<20 }) {
		t.Fatalf("not held: %+v", limits(srv2))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	srv2.Shutdown(ctx)
	cancel()
	<-served2
	if !eventually(10*time.Second, func() bool { return limits(srv2).MemoryHeldBytes == 0 }) {
		t.Errorf("forced shutdown: memory_held_bytes %d, want 0", limits(srv2).MemoryHeldBytes)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	<-served
}
