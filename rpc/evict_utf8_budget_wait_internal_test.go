package rpc

import (
	"context"
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// TestSanitizeBudgetWaitIsNotIdle: a connection whose reader holds a whole
// request with invalid UTF-8, waiting for MemoryBudget to copy it
// (handleFrame's waitForBudget), is not idle: something is buffered. At
// MaxConnections it must not be evicted for a newcomer, which would drop a
// request already read without an answer.
func TestSanitizeBudgetWaitIsNotIdle(t *testing.T) {
	const budget = 1 << 20
	s := NewServer(&Config{MaxConnections: 1, EvictIdleAfter: 100 * time.Millisecond, MemoryBudget: budget}, discardLog())
	s.Handle("x", HandlerFunc(func(_ context.Context, w ResponseWriter, _ *Request) error { return w.Send("ok") }))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()

	s.budget.charge(budget) // the budget is spent (by others' frames)
	defer s.budget.charge(-budget)

	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// One whole frame, in one write, with an invalid UTF-8 byte: its
	// sanitized copy must be charged to the budget, and waits for it.
	body := "{\"pattern\":\"x\",\"data\":\"\xff\",\"id\":1}"
	if _, err := io.WriteString(a, strconv.Itoa(len(body))+"#"+body); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); s.budget.waiters.Load() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the reader never waited for the budget")
		}
	}
	time.Sleep(300 * time.Millisecond) // past EvictIdleAfter since its last byte

	b, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		m := s.GetMetrics()
		if m.Limits.EvictedIdle != 0 {
			t.Fatalf("a connection holding a whole request, waiting for the budget to copy it, was evicted as idle (evicted_idle %d): its request is dropped unanswered", m.Limits.EvictedIdle)
		}
		if m.RejectedConnections == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the newcomer was neither refused nor did it evict")
		}
	}
}
