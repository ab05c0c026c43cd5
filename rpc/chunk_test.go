package rpc

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/wire"
)

// Read chunks past recvAllowance (conn.fill): a connection with much input
// waiting reads it into chunks of up to maxChunk, drawn from the memory
// budget only while it is at most half used, and never waiting for it.

// burst writes n 4 KiB "sum" requests to a new connection at once and reads
// their replies (in any order: a handler may be handed off); it returns the
// server's side of the connection.
func burst(s *Server, n int) (*conn, error) {
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	data := `{"a":1,"b":2,"pad":"` + strings.Repeat("x", 4000) + `"}`
	var all []byte
	for id := range n {
		all = wire.AppendRequest(all, wire.NestJS, []byte(`"sum"`), []byte(data), nil, strconv.AppendInt(nil, int64(id), 10))
	}
	var c *conn
	done := make(chan error, 1)
	go func() {
		_, err := nc.Write(all)
		done <- err
	}()
	r := bufio.NewReader(nc)
	seen := make(map[string]bool, n)
	for range n {
		body, err := readReply(r)
		if err != nil {
			return nil, err
		}
		id, ok := strings.CutPrefix(body, `{"response":3,"isDisposed":true,"id":`)
		if !ok || seen[id] {
			return nil, fmt.Errorf("reply %s", body)
		}
		seen[id] = true
		if c == nil {
			s.mu.Lock()
			for _, sc := range s.connList {
				if sc.remote.String() == nc.LocalAddr().String() {
					c = sc
				}
			}
			s.mu.Unlock()
		}
	}
	if err := <-done; err != nil {
		return nil, err
	}
	if c == nil {
		return nil, fmt.Errorf("no server connection from %v", nc.LocalAddr())
	}
	return c, nil
}

func startChunkTestServer(t *testing.T, budget int64) *Server {
	t.Helper()
	s := NewServer(&Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, RetryAttempts: -1, MemoryBudget: budget},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Handle("sum", Func(func(data json.RawMessage) (any, error) {
		var in struct{ A, B float64 }
		err := json.Unmarshal(data, &in)
		return in.A + in.B, err
	}))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// shutdown stops s, after which its connections' reader fields may be read.
func shutdown(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestChunksGrowPastAllowanceForABurst: with room in the budget, a burst
// of requests is read in chunks larger than the free allowance.
func TestChunksGrowPastAllowanceForABurst(t *testing.T) {
	s := startChunkTestServer(t, 64<<20)
	c, err := burst(s, 400) // 1.6 MB
	if err != nil {
		t.Fatal(err)
	}
	shutdown(t, s)
	if c.peakHeld == 0 {
		t.Fatalf("a 1.6 MB burst was read in chunks of at most %d bytes", recvAllowance)
	}
	if c.peakHeld > maxChunk-recvAllowance {
		t.Fatalf("held %d bytes of budget, want at most %d", c.peakHeld, maxChunk-recvAllowance)
	}
	if n := s.stats.budgetPauses.Load(); n != 0 {
		t.Fatalf("%d budget pauses with a budget of 64 MiB", n)
	}
}

// TestFitSpareHalves: growth for speed that the budget cannot admit whole
// takes the largest half, quarter… that it can, not the free allowance
// alone; and never asks for less than the allowance.
func TestFitSpareHalves(t *testing.T) {
	tests := []struct {
		name  string
		size  int
		room  int // the most reserveSpare admits, past the allowance
		want  int
		tries []int
	}{
		{"admitted whole", maxChunk, maxChunk, maxChunk, []int{maxChunk}},
		{"half fits", maxChunk, maxChunk / 2, maxChunk / 2, []int{maxChunk, maxChunk / 2}},
		{"a quarter fits", maxChunk, 300 << 10, maxChunk / 4, []int{maxChunk, maxChunk / 2, maxChunk / 4}},
		{"nothing fits", 4 * recvAllowance, 0, recvAllowance, []int{4 * recvAllowance, 2 * recvAllowance}},
		{"down to the allowance, not past it", 3 * recvAllowance, recvAllowance / 4, recvAllowance, []int{3 * recvAllowance, 3 * recvAllowance / 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tries []int
			got := fitSpare(tt.size, recvAllowance, func(size int) bool {
				tries = append(tries, size)
				return size-recvAllowance <= tt.room
			})
			if got != tt.want || fmt.Sprint(tries) != fmt.Sprint(tt.tries) {
				t.Fatalf("fitSpare(%d) with room for %d = %d after trying %v; want %d after %v", tt.size, tt.room, got, tries, tt.want, tt.tries)
			}
		})
	}
}

// TestChunkGrowthNeverWaitsForBudget: with a budget too small for every
// connection's growth, bursts on several connections at once are read
// without a single pause, and growth never takes the budget past half.
func TestChunkGrowthNeverWaitsForBudget(t *testing.T) {
	const budget = 300 << 10 // less than one connection's growth to maxChunk
	s := startChunkTestServer(t, budget)
	stop, sampled := make(chan struct{}), make(chan int64)
	go func() {
		var most int64
		for {
			most = max(most, s.budget.used.Load())
			select {
			case <-stop:
				sampled <- most
				return
			default:
				time.Sleep(20 * time.Microsecond)
			}
		}
	}()
	var wg sync.WaitGroup
	conns := make([]*conn, 4)
	errs := make([]error, len(conns))
	for i := range conns {
		wg.Go(func() { conns[i], errs[i] = burst(s, 200) })
	}
	wg.Wait()
	close(stop)
	most := <-sampled
	shutdown(t, s)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := s.stats.budgetPauses.Load(); n != 0 {
		t.Fatalf("%d budget pauses: growth for speed waited for the budget", n)
	}
	if most > budget/2 {
		t.Fatalf("%d bytes of a budget of %d used at once: growth for speed went past half", most, budget)
	}
	grew := 0
	for _, c := range conns {
		if c.peakHeld > 0 {
			grew++
		}
	}
	t.Logf("%d of %d connections grew past the free allowance; at most %d bytes of budget used", grew, len(conns), most)
}

// TestChunkGrowthLeavesTheBudgetToFrames attacks the growth past the free
// allowance: peers keep large pipelines coming on several connections, each
// enough to grow its chunk to maxChunk, against a budget that could not
// hold all their growth. Honest clients beside them — one sending a frame
// too large for the free allowance, which needs the budget, and one
// sending small frames — are served without a budget pause: growth takes
// at most half the budget, and never what a frame needs.
func TestChunkGrowthLeavesTheBudgetToFrames(t *testing.T) {
	const budget = 512 << 10 // less than one connection's growth to maxChunk
	s := startChunkTestServer(t, budget)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := burst(s, 400); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	// Let the attackers' chunks grow.
	for deadline := time.Now().Add(5 * time.Second); s.budget.used.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no attacker's chunk grew past the free allowance")
		}
		time.Sleep(time.Millisecond)
	}

	honest := func(pad int) error {
		nc, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			return err
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		data := `{"a":1,"b":2,"pad":"` + strings.Repeat("h", pad) + `"}`
		if _, err := nc.Write(wire.AppendRequest(nil, wire.NestJS, []byte(`"sum"`), []byte(data), nil, []byte(`"honest"`))); err != nil {
			return err
		}
		reply, err := readReply(bufio.NewReader(nc))
		if err != nil {
			return err
		}
		if want := `{"response":3,"isDisposed":true,"id":"honest"}`; reply != want {
			return fmt.Errorf("reply %s, want %s", reply, want)
		}
		return nil
	}
	for range 5 {
		if err := honest(150 << 10); err != nil { // needs about 100–240 KiB of budget
			t.Fatalf("honest large frame: %v", err)
		}
		if err := honest(10); err != nil {
			t.Fatalf("honest small frame: %v", err)
		}
	}
	close(stop)
	wg.Wait()
	shutdown(t, s)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := s.stats.budgetPauses.Load(); n != 0 {
		t.Fatalf("%d budget pauses: the attackers' growth crowded out the honest frames", n)
	}
	if n := s.stats.overBudget.Load(); n != 0 {
		t.Fatalf("%d connections dropped over budget", n)
	}
}

// readReply reads one reply frame (ASCII: its length in bytes).
func readReply(r *bufio.Reader) (string, error) {
	head, err := r.ReadString('#')
	if err != nil {
		return "", err
	}
	size, err := strconv.Atoi(strings.TrimSuffix(head, "#"))
	if err != nil {
		return "", fmt.Errorf("reply length %q", head)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		return "", err
	}
	return string(body), nil
}
