package rpc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestDepartedEventSendersFreeTheirSlots: peers that each send one
// event to a slow (but context-honouring) event handler and close at once
// leave nothing open on their side. SERVER.md: "Connections that are
// closing (reading stopped, last replies going out, lingering) do not
// count" against MaxConnections. Once the departedPeers are gone an honest
// client must still be admitted and served. MaxConnections is small to keep
// the test cheap; the closing bound is max(16, MaxConnections/4).
// departedMaxConns is the MaxConnections of the departed-peer tests; departedPeers
// exceeds it and the closing bound (16 here) together.
const (
	departedMaxConns = 40
	departedPeers    = departedMaxConns + 16 + 8
)

func TestDepartedEventSendersFreeTheirSlots(t *testing.T) {
	release := make(chan struct{})
	s := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", MaxConnections: departedMaxConns}, discardLogger())
	registerProbe(s)
	s.HandleEvent("audit", rpc.Event(func(ctx context.Context, _ json.RawMessage) error {
		select { // an honest handler: 20 s of work, or until cancelled
		case <-release:
		case <-ctx.Done():
		case <-time.After(20 * time.Second):
		}
		return nil
	}))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		close(release)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	}()
	addr := s.Addr().String()
	ev := []byte(reqFrame(`"audit"`, `1`, ""))
	for i := range departedPeers {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("attacker %d: dial: %v", i, err)
		}
		nc.Write(ev)
		nc.Close() // the attacker keeps nothing
	}
	// Every attacker socket is closed; let the server see the ends.
	time.Sleep(1 * time.Second)
	m := s.GetMetrics()
	t.Logf("after the attack: active %d, closing %d, rejected %d, handed off running %d",
		m.ActiveConnections, m.Limits.ClosingConnections, m.RejectedConnections, m.Limits.HandedOffRunning)
	for i := range 3 {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c := &client{t: t, nc: nc}
		c.br = bufio.NewReader(nc)
		id := `"honest"`
		c.write(reqFrame(`"sum"`, `[20,22]`, id))
		got, err := c.readFrameErr(3 * time.Second)
		nc.Close()
		if err != nil || got != valueReply(`42`, id) {
			m := s.GetMetrics()
			t.Fatalf("honest client %d, every attacker gone: got %q, %v (active %d of %d, closing %d, rejected %d)",
				i, got, err, m.ActiveConnections, departedMaxConns, m.Limits.ClosingConnections, m.RejectedConnections)
		}
	}
}

// TestDepartedPeerAfterGarbageCancelsHandlers: SERVER.md, "peer disconnects:
// the contexts of its running request handlers are cancelled". A peer that
// ends its stream with a corrupted prefix before it disconnects must not
// keep its handlers (and its connection's slot) until Timeout: more such
// peers than MaxConnections and the closing bound together, all gone, must
// not make the server refuse an honest client, and their handlers must see
// their contexts end.
func TestDepartedPeerAfterGarbageCancelsHandlers(t *testing.T) {
	var running, cancelled atomic.Int64
	s := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", MaxConnections: departedMaxConns}, discardLogger())
	registerProbe(s)
	s.Handle("report", rpc.Typed(func(ctx context.Context, _ json.RawMessage) (string, error) {
		running.Add(1)
		defer running.Add(-1)
		select { // an honest handler: 20 s of work, or until cancelled
		case <-ctx.Done():
			cancelled.Add(1)
			return "", ctx.Err()
		case <-time.After(20 * time.Second):
		}
		return "done", nil
	}))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	}()
	addr := s.Addr().String()
	attack := []byte(reqFrame(`"report"`, `1`, `1`) + "abc#")
	for i := range departedPeers {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("attacker %d: dial: %v", i, err)
		}
		nc.Write(attack)
		nc.(*net.TCPConn).SetLinger(0) // gone for good: a reset, nothing left to read
		nc.Close()
	}
	ok := eventually(3*time.Second, func() bool { return running.Load() == 0 })
	m := s.GetMetrics()
	t.Logf("after: handlers running %d (cancelled %d), active %d, closing %d, rejected %d",
		running.Load(), cancelled.Load(), m.ActiveConnections, m.Limits.ClosingConnections, m.RejectedConnections)
	if !ok {
		t.Errorf("%d handlers of peers that are gone still run (want their contexts cancelled)", running.Load())
	}
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &client{t: t, nc: nc, br: bufio.NewReader(nc)}
	id := `"honest"`
	c.write(reqFrame(`"sum"`, `[20,22]`, id))
	if got, err := c.readFrameErr(3 * time.Second); err != nil || got != valueReply(`42`, id) {
		m := s.GetMetrics()
		t.Fatalf("honest client, every attacker gone: got %q, %v (active %d, closing %d, rejected %d)",
			got, err, m.ActiveConnections, m.Limits.ClosingConnections, m.RejectedConnections)
	}
}
