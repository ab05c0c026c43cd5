//go:build linux

package rpc_test

import (
	"bufio"
	"context"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// Helpers of the aggregate attacks: a server with every default (only the
// address and the logger chosen), many attacker connections at once, and what the process spends.

// defaultServer starts rpc.NewServer with a default Config (Addr only) and
// register's handlers; it is closed at cleanup.
func defaultServer(t testing.TB, register func(s *rpc.Server)) *rpc.Server {
	t.Helper()
	return serverWithBudget(t, 0, register)
}

// serverWithBudget is defaultServer with MemoryBudget set (0: the default).
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

// dialMany opens n raw connections to s (in parallel), each with a small
// receive buffer when rcvbuf > 0; they are closed at cleanup.
func dialMany(t testing.TB, s *rpc.Server, n, rcvbuf int) []*net.TCPConn {
	t.Helper()
	conns := make([]*net.TCPConn, n)
	var wg sync.WaitGroup
	var failed atomic.Int32
	sem := make(chan struct{}, 64)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d := net.Dialer{Timeout: 10 * time.Second}
			if rcvbuf > 0 {
				// Before connecting, so that the window is small from the
				// start.
				d.Control = func(_, _ string, rc syscall.RawConn) error {
					return rc.Control(func(fd uintptr) {
						syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
					})
				}
			}
			nc, err := d.Dial("tcp", s.Addr().String())
			if err != nil {
				failed.Add(1)
				return
			}
			tc := nc.(*net.TCPConn)
			if rcvbuf > 0 {
				tc.SetReadBuffer(rcvbuf)
			}
			conns[i] = tc
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d dials failed", f, n)
	}
	return conns
}

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

type unexpectedReply struct{ got string }

func (e *unexpectedReply) Error() string { return "unexpected reply " + clip(e.got) }

func strconvI(i int) string { return strconv.Itoa(i) }
