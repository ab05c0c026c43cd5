package rpc_test

import (
	"bufio"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newReader(nc net.Conn) *bufio.Reader { return bufio.NewReader(nc) }

// testProxy forwards each TCP connection it accepts to target, each
// direction through forward (upstream: from the client to the server), and
// keeps both ends for the test; all are closed at the test's end.
type testProxy struct {
	addr  string
	ln    net.Listener
	mu    sync.Mutex
	conns [][2]net.Conn // the client's end, the server's end
}

func startProxy(t *testing.T, target string, forward func(dst, src net.Conn, upstream bool)) *testProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &testProxy{addr: ln.Addr().String(), ln: ln}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, [2]net.Conn{in, out})
			p.mu.Unlock()
			wg.Go(func() { forward(out, in, true) })
			wg.Go(func() { forward(in, out, false) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c[0].Close()
			c[1].Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	return p
}

// count is how many connections the proxy has accepted.
func (p *testProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// resetOne resets the first connection, on the client's side (RST).
func (p *testProxy) resetOne() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[0][0].(*net.TCPConn).SetLinger(0)
	p.conns[0][0].Close()
	p.conns[0][1].Close()
}

// copyThenClose forwards until either side ends, then closes both.
func copyThenClose(dst, src net.Conn, _ bool) {
	io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// stallingProxy forwards until stall is called; then it silently drops
// everything in both directions without closing anything, as a dead
// network path does.
type stallingProxy struct {
	*testProxy
	stalled atomic.Bool
}

func startStallingProxy(t *testing.T, target string) *stallingProxy {
	p := &stallingProxy{}
	p.testProxy = startProxy(t, target, func(dst, src net.Conn, _ bool) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 && !p.stalled.Load() {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
	return p
}

func (p *stallingProxy) stall() { p.stalled.Store(true) }

// slowLink forwards client to server at about 3 MB/s (a slow but working
// path: the server reads everything), counting the bytes sent upstream.
type slowLink struct {
	*testProxy
	up atomic.Int64
}

func startSlowLink(t *testing.T, target string) *slowLink {
	l := &slowLink{}
	l.testProxy = startProxy(t, target, func(dst, src net.Conn, upstream bool) {
		if !upstream {
			copyThenClose(dst, src, upstream)
			return
		}
		defer dst.Close()
		defer src.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				time.Sleep(10 * time.Millisecond)
				if _, err := dst.Write(buf[:n]); err != nil {
					return
				}
				l.up.Add(int64(n))
			}
			if err != nil {
				return
			}
		}
	})
	return l
}
