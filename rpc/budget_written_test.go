//go:build linux

package rpc_test

import (
	"encoding/json"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestBudgetBoundsPartlyReadReplies: peers that read most of a long reply
// and stop must not make the server hold more than its budget says: a
// reply's buffer stays charged until its write ends (it used to leave the
// budget as the socket took it: 769 MiB of heap for 53–61 MiB charged), and
// past the budget the stalled peers are shed. (The unit test of the
// charge is TestBudgetKeepsWrittenBytesWhileTheirBufferIsHeld.)
func TestBudgetBoundsPartlyReadReplies(t *testing.T) {
	const (
		attackers = 12 // 192 MiB of replies against a 64 MiB budget
		replySize = 16 << 20
		readFirst = 11 << 20 // then stop: what is left exceeds the kernel's buffers
	)
	blob := strings.Repeat("b", replySize)
	srv := serverWithBudget(t, 64<<20, func(s *rpc.Server) {
		registerProbe(s)
		s.Handle("blob", rpc.Func(func(json.RawMessage) (any, error) { return blob, nil }))
	})
	runtime.GC()
	base := takeSample(srv)

	cs := dialMany(t, srv, attackers, 64<<10)
	var wg sync.WaitGroup
	errs := make(chan error, attackers)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetDeadline(time.Now().Add(40 * time.Second))
			if _, err := c.Write([]byte(reqFrame(`"blob"`, `null`, strconvI(i)))); err != nil {
				errs <- err
				return
			}
			// Read most of the reply, then stop reading. (A peer slow to
			// read while the budget is over may be dropped: that is the
			// budget holding, not a failure.)
			io.CopyN(io.Discard, c, readFirst)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("attacker: %v", err)
	}
	// Wait until the server's writes have stalled: bytes_out stops moving.
	var last uint64
	for stable := 0; stable < 5; time.Sleep(100 * time.Millisecond) {
		if out := srv.GetMetrics().BytesOut; out == last {
			stable++
		} else {
			last, stable = out, 0
		}
	}
	runtime.GC()
	now := takeSample(srv)
	live := int64(now.heapAlloc) - int64(base.heapAlloc)
	d, err := timedCall(srv, "during", 10*time.Second)
	if err != nil {
		t.Errorf("honest call during the attack: %v after %v", err, d)
	}
	t.Logf("%d peers each read %d of a %d MiB reply: live heap +%.0f MiB, memory_held_bytes %.1f MiB (budget %d MiB), slow consumers %d; honest call %v",
		attackers, readFirst>>20, replySize>>20, mib(uint64(max(live, 0))), mib(uint64(now.held)), limits(srv).MemoryBudgetBytes>>20, limits(srv).SlowConsumers, d.Round(time.Millisecond))
	// What the budget counts, plus the free read allowance of every
	// connection, plus generous slack, must cover what the heap holds.
	allowed := now.held + int64(attackers+1)*(64<<10) + 64<<20
	if live > allowed {
		t.Errorf("the heap holds %.0f MiB more than at the start, but the budget counts %.1f MiB held (allowed with slack: %.0f MiB): written reply bytes are released from the budget while their buffer stays in memory",
			mib(uint64(live)), mib(uint64(now.held)), mib(uint64(allowed)))
	}
}
