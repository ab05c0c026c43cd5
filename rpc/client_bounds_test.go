package rpc_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/streamtest"
	"github.com/msgpattern/msgpattern/rpc"
	"github.com/msgpattern/msgpattern/wire"
)

// The client's own bounds: what a slow or hostile server can make it hold.

func rawFrame(body string) string { return strconv.Itoa(len(body)) + "#" + body }

// TestClientStreamBufferBound: a server streams far more than a slow
// consumer takes. The stream call ends with ErrStreamOverflow once its
// unread values pass WithMaxStreamBuffer, instead of the client buffering
// them all (4 MiB here: 64 MiB in the report that found it); the
// connection stays, and a plain call on it is still answered.
func TestClientStreamBufferBound(t *testing.T) {
	t.Parallel()
	const values, size, limit = 4096, 1 << 10, 256 << 10
	value := `"` + strings.Repeat("x", size-2) + `"`
	flooded := make(chan struct{})
	fs := startFakeServer(t, func(_ int, req wire.Packet, w func(string)) bool {
		id := string(req.ID)
		if string(req.Pattern) != `"flood"` {
			w(rawFrame(`{"response":"pong","isDisposed":true,"id":` + id + `}`))
			return true
		}
		go func() {
			defer close(flooded)
			batch := strings.Repeat(rawFrame(`{"response":`+value+`,"id":`+id+`}`), 64)
			for range values / 64 {
				w(batch)
			}
			w(rawFrame(`{"isDisposed":true,"id":` + id + `}`))
		}()
		return true
	})
	c := newTestClient(t, fs.addr, rpc.WithHeartbeat(0, 0), rpc.WithMaxStreamBuffer(limit))
	taken, streamErr := streamtest.SlowConsumer(t, c.Stream(context.Background(), "flood", nil), size, flooded, 100*time.Millisecond)
	t.Logf("took %d of %d values, then %v", taken, values, streamErr)
	streamtest.CheckOverflow(t, taken, streamErr, rpc.ErrStreamOverflow, limit, size)
	var out string
	if err := c.Send(context.Background(), "ping", nil, &out); err != nil || out != "pong" {
		t.Errorf("a call after the overflow: %q, %v; want pong on the same connection", out, err)
	}
	if m := c.Metrics(); m.Reconnects != 0 {
		t.Errorf("%d reconnects; the overflow must not cost the connection", m.Reconnects)
	}
}

// TestClientQueuedRequestsBound: a server that reads, but slowly, and
// answers nothing. Callers with short deadlines give up, yet their
// requests were queued; without a bound the client held every one of them
// (50 MiB in the report that found it). With WithMaxQueuedBytes the queue
// stays within the bound plus the requests of the callers that passed it
// together, and calls wait for room within their own deadlines.
func TestClientQueuedRequestsBound(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var sw sync.WaitGroup
	sw.Add(1)
	go func() { // reads 16 KiB every 20 ms, about 800 KB/s; never answers
		defer sw.Done()
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		buf := make([]byte, 16<<10)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			nc.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			nc.Read(buf)
		}
	}()
	t.Cleanup(func() { ln.Close(); close(stop); sw.Wait() })

	const limit, callers, size = 1 << 20, 16, 64 << 10
	c := newTestClient(t, ln.Addr().String(), rpc.WithHeartbeat(0, 0), rpc.WithMaxQueuedBytes(limit))
	data := strings.Repeat("x", size)
	var (
		wg       sync.WaitGroup
		peak     atomic.Int64
		timedOut atomic.Int64
	)
	deadline := time.Now().Add(1500 * time.Millisecond)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				if err := c.Send(ctx, "x", data, nil); errors.Is(err, context.DeadlineExceeded) {
					timedOut.Add(1)
				}
				cancel()
			}
		}()
	}
	watch := make(chan struct{})
	go func() {
		defer close(watch)
		for time.Now().Before(deadline) {
			if q := int64(rpc.ClientQueuedForTest(c)); q > peak.Load() {
				peak.Store(q)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	wg.Wait()
	<-watch
	bound := limit + callers*(size+200)
	t.Logf("peak queued %d KiB (bound %d KiB), %d calls timed out", peak.Load()>>10, bound>>10, timedOut.Load())
	if peak.Load() > int64(bound) {
		t.Errorf("the client queued %d KiB of requests for a slow server; want at most %d KiB", peak.Load()>>10, bound>>10)
	}
	if timedOut.Load() == 0 {
		t.Error("no call timed out: the server was not slow enough to test the bound")
	}
}

// TestClientHeartbeatPingsIgnored: a server that answers calls but ignores
// heartbeat pings (any frame counts as life) must not leave one pending
// ping per idle interval behind.
func TestClientHeartbeatPingsIgnored(t *testing.T) {
	t.Parallel()
	fs := startFakeServer(t, func(_ int, req wire.Packet, w func(string)) bool {
		if string(req.Pattern) != `"`+rpc.HeartbeatPattern+`"` {
			w(rawFrame(`{"response":1,"isDisposed":true,"id":` + string(req.ID) + `}`))
		}
		return true
	})
	c := newTestClient(t, fs.addr, rpc.WithHeartbeat(20*time.Millisecond, 10*time.Second))
	for range 30 {
		if err := c.Send(context.Background(), "x", nil, nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(40 * time.Millisecond)
	}
	if n := rpc.ClientPendingForTest(c); n > 1 {
		t.Errorf("%d ids pending with no call in flight; want at most the one current ping", n)
	}
	if m := c.Metrics(); m.Heartbeats == 0 {
		t.Error("no ping was sent: the test did not exercise heartbeats")
	}
}

// TestClientCloseEndsDialWaits: Close fails a call that waits out the
// reconnect backoff at once, instead of the call dialling after Close.
func TestClientCloseEndsDialWaits(t *testing.T) {
	t.Parallel()
	addr := deadAddr(t)
	c := newTestClient(t, addr, rpc.WithReconnectBackoff(4*time.Second, 4*time.Second))
	if err := c.Send(context.Background(), "x", nil, nil); err == nil {
		t.Fatal("want a dial error")
	}
	done := make(chan error, 1)
	go func() { done <- c.Send(context.Background(), "x", nil, nil) }()
	time.Sleep(100 * time.Millisecond) // the call waits in the backoff
	start := time.Now()
	c.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v: it waited out the backoff", d)
	}
	select {
	case err := <-done:
		if !errors.Is(err, rpc.ErrClientClosed) {
			t.Errorf("the waiting call ended with %v; want ErrClientClosed", err)
		}
	case <-time.After(time.Second):
		t.Errorf("the waiting call still runs 1s after Close; ended after %v: %v", time.Since(start), <-done)
	}
}

// TestClientStreamBufferCountsEntries: WithMaxStreamBuffer counts each
// waiting value with its place in the queue, so a stream of tiny values is
// bounded too. Counting only their bytes, 1-byte values held 60 times the
// bound (3.9 MiB for 64 KiB) before the call overflowed.
func TestClientStreamBufferCountsEntries(t *testing.T) {
	const limit = 64 << 10
	flooded := make(chan struct{})
	fs := startFakeServer(t, func(_ int, req wire.Packet, w func(string)) bool {
		id := string(req.ID)
		go func() {
			defer close(flooded)
			batch := strings.Repeat(rawFrame(`{"response":0,"id":`+id+`}`), 1024)
			for range 2 * limit / 1024 {
				w(batch)
			}
			w(rawFrame(`{"isDisposed":true,"id":` + id + `}`))
		}()
		return true
	})
	c := newTestClient(t, fs.addr, rpc.WithHeartbeat(0, 0), rpc.WithMaxStreamBuffer(limit))
	before := streamtest.HeapAlloc()
	var grew uint64
	var end error
	measured := false // once: a heap that shrank meanwhile reads as no growth
	for _, err := range c.Stream(context.Background(), "flood", nil) {
		if err != nil {
			end = err
			break
		}
		if !measured {
			measured = true
			<-flooded
			time.Sleep(500 * time.Millisecond) // the reader has taken them all
			if after := streamtest.HeapAlloc(); after > before {
				grew = after - before
			}
		}
	}
	t.Logf("stream ended with %v; heap grew %d KiB for a %d KiB stream buffer", end, grew>>10, limit>>10)
	if !errors.Is(end, rpc.ErrStreamOverflow) {
		t.Fatalf("want ErrStreamOverflow, got %v", end)
	}
	if grew > 8*limit {
		t.Errorf("one stream call held %d KiB, %dx its WithMaxStreamBuffer of %d KiB", grew>>10, grew/limit, limit>>10)
	}
}
