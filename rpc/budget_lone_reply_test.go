//go:build linux

package rpc_test

import (
	"bufio"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestBudgetShedsStalledLoneReplies: replies are charged to MemoryBudget
// without waiting, and past it the peers holding the most replies they do
// not take are dropped. That used to happen only when a frame was appended
// behind a stalled write: peers that each asked for one long reply and read
// it slowly held any multiple of the budget (755 MiB against 512, none
// dropped), and an honest 1 MiB frame waited for the budget until dropped.
func TestBudgetShedsStalledLoneReplies(t *testing.T) {
	const (
		attackers = 8 // 128 MiB of replies against a 64 MiB budget
		replySize = 16 << 20
	)
	blob := strings.Repeat("r", replySize)
	var ran atomic.Int32
	srv := serverWithBudget(t, 64<<20, func(s *rpc.Server) {
		registerProbe(s) // "echo" among them
		s.Handle("report", rpc.Func(func(json.RawMessage) (any, error) { ran.Add(1); return blob, nil }))
	})
	budget := limits(srv).MemoryBudgetBytes

	cs := dialMany(t, srv, attackers, 4096)
	for i, c := range cs {
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(reqFrame(`"report"`, `null`, strconvI(i)))); err != nil {
			t.Fatal(err)
		}
	}
	// Each attacker reads 64 KiB every second: its write makes progress
	// within WriteTimeout, but barely dents its reply.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			trickle(c, 64<<10, stop)
		}()
	}
	defer func() { close(stop); wg.Wait() }()

	// Every reply charged (or its peer already dropped), and then the
	// stalled ones shed: what is held comes back within the budget, with
	// 2 MiB of slack a peer.
	if !eventually(60*time.Second, func() bool {
		m := srv.GetMetrics()
		return ran.Load() == attackers && (m.Limits.MemoryHeldBytes+int64(m.BytesOut) >= attackers*replySize || m.Limits.SlowConsumers > 0)
	}) {
		t.Fatalf("%d of %d replies made: %+v", ran.Load(), attackers, srv.GetMetrics().Limits)
	}
	eventually(30*time.Second, func() bool { return limits(srv).MemoryHeldBytes <= budget+int64(attackers)*(2<<20) })
	held := limits(srv).MemoryHeldBytes
	t.Logf("%d peers reading a %d MiB reply at 64 KiB/s: memory_held_bytes %.0f MiB, budget %d MiB, slow consumers %d",
		attackers, replySize>>20, mib(uint64(held)), budget>>20, limits(srv).SlowConsumers)

	// An honest client sends a 1 MiB frame to "echo".
	start := time.Now()
	nc, err := net.DialTimeout("tcp", srv.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	data := strings.Repeat("h", 1<<20)
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	go nc.Write([]byte(reqFrame(`"echo"`, `"`+data+`"`, `"honest"`)))
	got, err := readNestFrame(bufio.NewReader(nc))
	l := limits(srv)
	t.Logf("honest 1 MiB echo: %d bytes, err %v after %v; held %.0f MiB, budget pauses %d, over_budget %d, slow consumers %d",
		len(got), err, time.Since(start).Round(time.Millisecond), mib(uint64(l.MemoryHeldBytes)), l.BudgetPauses, l.OverBudget, l.SlowConsumers)
	if held > budget+int64(attackers)*(2<<20) {
		t.Errorf("replies held %.0f MiB against a MemoryBudget of %d MiB, none dropped: a reply alone in its queue is never held to the budget",
			mib(uint64(held)), budget>>20)
	}
	if err != nil || got != valueReply(`"`+data+`"`, `"honest"`) {
		t.Errorf("an honest 1 MiB request was not served within 30 s (%v) while slow readers held the budget with their replies", err)
	}
}
