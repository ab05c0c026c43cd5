package rpc

import (
	"sync"
	"testing"
	"time"
)

// TestBudgetWakesWaitersOnlyWhenANeedFits: a reader waiting for the memory
// budget used to be woken by every release of any bytes, every reply any
// connection wrote: with about 400 connections waiting (half-sent large
// frames, what a full budget makes wait), each honest call cost 6–20 times
// its CPU in wake-ups that could not succeed. Releases that leave less free
// than the smallest waiter's need wake nobody now; one that frees it wakes.
func TestBudgetWakesWaitersOnlyWhenANeedFits(t *testing.T) {
	const (
		limit   = 1 << 20
		need    = 256 << 10
		waiters = 20
	)
	b := newMemoryBudget(limit)
	b.charge(limit) // full
	stop := make(chan struct{})
	got := make(chan bool, waiters)
	var wg sync.WaitGroup
	for range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got <- b.reserve(need, 0, stop, nil)
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); b.waiters.Load() < waiters; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d waiters", b.waiters.Load(), waiters)
		}
	}
	for range 1000 { // small replies coming and going
		b.charge(100)
		b.charge(-100)
	}
	b.charge(-(need - 1)) // nearly enough
	if w := b.wakes.Load(); w != 0 {
		t.Errorf("releases that could satisfy no waiter woke them %d times, want 0", w)
	}
	b.charge(-1) // now one need fits
	select {
	case ok := <-got:
		if !ok {
			t.Fatal("a waiter gave up")
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no waiter took the %d bytes freed (woken %d times)", need, b.wakes.Load())
	}
	if u := b.used.Load(); u != limit {
		t.Errorf("used %d, want %d (the freed bytes taken once)", u, limit)
	}
}
