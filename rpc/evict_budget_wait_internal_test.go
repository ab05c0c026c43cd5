package rpc

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBudgetWaitIsNotIdle: a connection whose reader holds bytes of a
// request and waits for MemoryBudget is not idle (something is buffered),
// so at MaxConnections it must not be evicted for a newcomer: the newcomer
// is refused. Evicted, the request already read would go unanswered.
//   - part of a frame: midFrame used to be set only after the budget
//     wait, so a frame whose first read filled the chunk looked idle;
//   - a whole request with invalid UTF-8, whose sanitized copy waits for
//     the budget (handleFrame's waitForBudget): nothing marked it.
func TestBudgetWaitIsNotIdle(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(t *testing.T, a net.Conn)
	}{
		{"part of a frame", func(t *testing.T, a net.Conn) {
			// A first request of 60 KiB (answered: no handler) sizes the
			// next chunk for a frame as large: 64 KiB.
			first := `{"pattern":"none","data":"` + strings.Repeat("a", 60<<10) + `","id":1}`
			if _, err := io.WriteString(a, strconv.Itoa(len(first))+"#"+first); err != nil {
				t.Fatal(err)
			}
			a.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := a.Read(make([]byte, 512)); err != nil {
				t.Fatal(err)
			}
			// A frame announcing 256 KiB, 100 KiB of it sent in one write:
			// the reader's first read fills its 64 KiB chunk, then it needs
			// budget.
			body := `{"pattern":"x","data":"` + strings.Repeat("a", 100<<10)
			if _, err := io.WriteString(a, "262144#"+body); err != nil {
				t.Fatal(err)
			}
		}},
		{"a whole request with invalid UTF-8", func(t *testing.T, a net.Conn) {
			body := "{\"pattern\":\"x\",\"data\":\"\xff\",\"id\":1}"
			if _, err := io.WriteString(a, strconv.Itoa(len(body))+"#"+body); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
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
			tc.send(t, a)
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
					t.Fatalf("a connection holding %s, waiting for the budget, was evicted as idle (evicted_idle %d)", tc.name, m.Limits.EvictedIdle)
				}
				if m.RejectedConnections == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the newcomer was neither refused nor did it evict")
				}
			}
		})
	}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
