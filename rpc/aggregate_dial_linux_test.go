package rpc_test

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

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
