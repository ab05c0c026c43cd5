package rpc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// slowSteadyReader reads r in 8 KiB pieces, one every 5 ms (about
// 1.6 MB/s): it never leaves the server's write without progress for
// anywhere near 100 ms, unless the machine starves it. maxGap records the
// longest time between two of its reads, to tell the two apart.
type slowSteadyReader struct {
	r      io.Reader
	last   time.Time
	maxGap time.Duration
}

func (s *slowSteadyReader) Read(p []byte) (int, error) {
	time.Sleep(5 * time.Millisecond)
	n, err := s.r.Read(p[:min(len(p), 8<<10)])
	now := time.Now()
	if !s.last.IsZero() {
		s.maxGap = max(s.maxGap, now.Sub(s.last))
	}
	s.last = now
	return n, err
}

// TestShedderSparesSteadyReaders: while the budget is short, a connection
// holding more than the mark is dropped only behind a write that took
// nothing for 100 ms. Two honest peers download a 6 MiB reply each (12 MiB
// against an 8 MiB budget: the budget is over) and read it steadily, 8 KiB
// every 5 ms. Progress shows only as a Write call returns: in 256 KiB
// pieces (about 160 ms each at that rate) they looked stalled and were
// shed; the pieces are 16 KiB while the budget is short. A round in which
// the machine kept a reader, or a goroutine of the server's process, from
// running for 60 ms or more proves nothing either way and is run again (at
// most ten rounds: a shared CI machine can starve several in a row).
func TestShedderSparesSteadyReaders(t *testing.T) {
	// Over a pipe progress shows only as Write calls return; over TCP a
	// Write into a full send buffer returns only once much of it is free
	// (Linux wakes the writer when half of a buffer of megabytes is), so
	// a peer reading steadily took nothing from one write for hundreds of
	// milliseconds and was shed, until bytes taken out of that buffer
	// counted (where the system tells: Linux).
	transports := []struct {
		name  string
		serve func(t *testing.T, srv *rpc.Server) func() net.Conn
	}{
		{"pipe", func(t *testing.T, srv *rpc.Server) func() net.Conn {
			ln := servePipe(t, srv)
			return func() net.Conn { return ln.dial() }
		}},
	}
	if runtime.GOOS == "linux" {
		transports = append(transports, struct {
			name  string
			serve func(t *testing.T, srv *rpc.Server) func() net.Conn
		}{"tcp", func(t *testing.T, srv *rpc.Server) func() net.Conn {
			serveTCP(t, srv)
			return func() net.Conn { return rawDial(t, srv, 0) }
		}})
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) { shedderSparesSteadyReaders(t, tr.serve) })
	}
}

func shedderSparesSteadyReaders(t *testing.T, serve func(t *testing.T, srv *rpc.Server) func() net.Conn) {
	const replySize = 6 << 20
	blob := strings.Repeat("r", replySize)
	for round := 1; ; round++ {
		cfg := rpc.Config{Addr: "127.0.0.1:0", MemoryBudget: 8 << 20, RateLimitPerSec: -1, RetryAttempts: -1}
		srv := rpc.NewServer(&cfg, discardLogger())
		srv.Handle("report", rpc.Func(func(json.RawMessage) (any, error) { return blob, nil }))
		dial := serve(t, srv)

		lag := watchLag()
		const peers = 2
		errs := make([]error, peers)
		readers := make([]*slowSteadyReader, peers)
		var wg sync.WaitGroup
		for i := range peers {
			c := dial()
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second))
			go c.Write([]byte(reqFrame(`"report"`, `null`, strconv.Itoa(i))))
			readers[i] = &slowSteadyReader{r: c}
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := readNestFrame(bufio.NewReaderSize(readers[i], 8<<10))
				if err == nil && got != valueReply(`"`+blob+`"`, strconv.Itoa(i)) {
					err = io.ErrUnexpectedEOF
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		late := lag()
		l := limits(srv)
		starved := false
		for i, err := range errs {
			if err == nil {
				continue
			}
			if gap := readers[i].maxGap; gap >= 60*time.Millisecond || late >= 60*time.Millisecond {
				t.Logf("round %d: peer %d lost its reply (%v), but the machine kept it from reading for %v, and a goroutine of this process (the server's are) from running for %v", round, i, err, gap, late)
				starved = true
				continue
			}
			t.Errorf("peer %d, reading its reply steadily at ~1.6 MB/s (at most %v between reads), lost it: %v (slow_consumers=%d, memory_held_bytes=%d of %d)",
				i, readers[i].maxGap, err, l.SlowConsumers, l.MemoryHeldBytes, cfg.MemoryBudget)
		}
		if !starved || t.Failed() {
			return
		}
		if round == 10 {
			t.Fatal("ten rounds in which the machine starved a reader or the server: the shedder's rule was never tested")
		}
	}
}

// watchLag starts a goroutine that sleeps 5 ms again and again and records
// how much later than asked it woke; the function returned stops it and
// gives the worst. The server under test runs in this process: a round in
// which this goroutine was kept from running for tens of milliseconds may
// equally have kept the server's writer from writing, which looks like a
// stalled peer.
func watchLag() func() time.Duration {
	stop := make(chan struct{})
	worst := make(chan time.Duration, 1)
	go func() {
		var w time.Duration
		for {
			select {
			case <-stop:
				worst <- w
				return
			default:
			}
			t0 := time.Now()
			time.Sleep(5 * time.Millisecond)
			w = max(w, time.Since(t0)-5*time.Millisecond)
		}
	}()
	return func() time.Duration {
		close(stop)
		return <-worst
	}
}

// serveTCP starts srv on its Addr, shut down at the test's end.
func serveTCP(t *testing.T, srv *rpc.Server) {
	if err := srv.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
	})
}
