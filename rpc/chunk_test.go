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
		head, err := r.ReadString('#')
		if err != nil {
			return nil, err
		}
		size, _ := strconv.Atoi(strings.TrimSuffix(head, "#"))
		body := make([]byte, size)
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, err
		}
		id, ok := strings.CutPrefix(string(body), `{"response":3,"isDisposed":true,"id":`)
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

// TestChunkGrowthNeverWaitsForBudget: with a budget too small for every
// connection's growth, bursts on several connections at once are read
// without a single pause, and growth never takes the budget past half.
func TestChunkGrowthNeverWaitsForBudget(t *testing.T) {
	const budget = 300 << 10 // less than two connections' growth to maxChunk
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
