package rpc_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// Helpers of the aggregate attacks: a server with every default (only the
// address and the logger chosen), many attacker connections at once, and what the process spends.

// serverWithBudget starts rpc.NewServer with a default Config but for the
// address and MemoryBudget (0: the default), and register's handlers; it is
// closed at cleanup.
func serverWithBudget(t testing.TB, budget int64, register func(s *rpc.Server)) *rpc.Server {
	t.Helper()
	s := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", MemoryBudget: budget}, discardLogger())
	if register != nil {
		register(s)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			s.Close()
		}
	})
	return s
}

// sample is what the process spends at one moment.
type sample struct {
	heapInuse, heapAlloc, sys uint64
	goroutines, fds           int
	held                      int64 // the server's MemoryHeldBytes
}

func takeSample(s *rpc.Server) sample {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return sample{
		heapInuse: ms.HeapInuse, heapAlloc: ms.HeapAlloc, sys: ms.Sys,
		goroutines: runtime.NumGoroutine(), fds: openFDs(), held: limits(s).MemoryHeldBytes,
	}
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// timedCall dials s and makes one "sum" call, returning how long it took
// and an error if it was not answered right within d.
func timedCall(s *rpc.Server, tag string, d time.Duration) (time.Duration, error) {
	start := time.Now()
	nc, err := net.DialTimeout("tcp", s.Addr().String(), d)
	if err != nil {
		return time.Since(start), err
	}
	defer nc.Close()
	nc.SetDeadline(start.Add(d))
	id := strconv.Quote("h-" + tag)
	if _, err := nc.Write([]byte(reqFrame(`"sum"`, `[20,22]`, id))); err != nil {
		return time.Since(start), err
	}
	got, err := readNestFrame(bufio.NewReader(nc))
	if err != nil {
		return time.Since(start), err
	}
	if got != valueReply(`42`, id) {
		return time.Since(start), &unexpectedReply{got}
	}
	return time.Since(start), nil
}

// trickle reads up to chunk bytes from c every second (each read given
// 500 ms), a peer that takes its replies slowly, until stop closes or the
// connection fails.
func trickle(c net.Conn, chunk int, stop <-chan struct{}) {
	buf := make([]byte, chunk)
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Second):
		}
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if _, err := io.ReadFull(c, buf); err != nil && !isTimeout(err) {
			return
		}
	}
}

type unexpectedReply struct{ got string }

func (e *unexpectedReply) Error() string { return "unexpected reply " + clip(e.got) }

func strconvI(i int) string { return strconv.Itoa(i) }
