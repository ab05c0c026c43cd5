package rpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestShedderLooksWhileALoneWaiterWaits: while a reader waits for the
// budget the shedder looks again every 100 ms. A lone waiter used to get
// one sweep only (it registered after it), so a peer that stalled later
// kept its replies and the waiter failed at FrameTimeout.
func TestShedderLooksWhileALoneWaiterWaits(t *testing.T) {
	const (
		mib    = 1 << 20
		budget = 32 * mib
	)
	cfg := rpc.Config{MemoryBudget: budget, FrameTimeout: 5 * time.Second, WriteTimeout: time.Minute, RateLimitPerSec: -1, RetryAttempts: -1}
	srv := rpc.NewServer(&cfg, discardLogger())
	registerExposure(srv, nil) // "flood" among them
	ln := servePipe(t, srv)
	ctx := context.Background()
	// shed's first call within 100 ms of the process's start is put off
	// (monotime() - 0 < overBudgetStall), and a put-off sweep does see the
	// waiter: be past that, as any server that has run a while is.
	time.Sleep(200 * time.Millisecond)

	// Something holds 12 MiB for a while (a NATS message, say).
	if err := srv.AcquireMemory(ctx, 12*mib); err != nil {
		t.Fatal(err)
	}
	// A waiter needs 31 MiB: 20 are free. Its sweep finds nothing to shed.
	got := make(chan error, 1)
	go func() { got <- srv.AcquireMemory(ctx, 31*mib) }()
	waitMetric(t, srv, "budget_pauses", uint64(1), func(m rpc.Metrics) uint64 { return m.Limits.BudgetPauses })

	// A peer asks for 16 MiB of replies (4 MiB values) and reads none:
	// the first value's write stalls with 4 MiB unwritten (a pipe buffers
	// nothing); the budget is not over.
	nc := ln.dial()
	defer nc.Close()
	go nc.Write([]byte(reqFrame(`"flood"`, `[4,4194304]`, `1`)))
	if !eventually(10*time.Second, func() bool { return limits(srv).MemoryHeldBytes >= 12*mib+4*mib }) {
		t.Fatalf("replies not held: %+v", limits(srv))
	}
	if l := limits(srv); l.MemoryHeldBytes > budget || l.SlowConsumers != 0 || l.OverBudget != 0 {
		t.Fatalf("setup: %+v", l)
	}
	// The 12 MiB come back: 28 MiB free, what the waiter lacks is held by
	// the stalled peer, which the shedder should drop 100-200 ms on.
	start := time.Now()
	srv.ReleaseMemory(12 * mib)
	err := <-got
	l := limits(srv)
	if err != nil {
		t.Errorf("waiter: %v after %v (held %d, slow_consumer=%d): the stalled peer holding %d bytes of replies was never shed",
			err, time.Since(start).Round(time.Millisecond), l.MemoryHeldBytes, l.SlowConsumers, l.MemoryHeldBytes)
	} else {
		srv.ReleaseMemory(31 * mib)
	}
}
