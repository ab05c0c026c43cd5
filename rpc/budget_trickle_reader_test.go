//go:build linux || darwin

package rpc_test

import (
	"bufio"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
	"golang.org/x/sys/unix"
)

// TestShedderDropsTrickleReaders: docs/SERVER.md says that while the
// budget is short a peer holding replies must take 16 KiB every 100 ms
// (160 KB/s). When bytes drained from the kernel's send buffer first
// counted as progress, any drain at all between two judgements spared a
// connection: two peers that ask for 6 MiB replies and take 2 KiB every
// 20 ms (about 100 KB/s), announcing a small MSS and receive buffer so
// that their kernel acknowledges a little at a time, held 12 MiB of an
// 8 MiB budget indefinitely, and an honest client's 1 MiB upload waited
// for the budget until FrameTimeout and was dropped (over_budget). A
// drain counts only as a piece's worth (16 KiB).
func TestShedderDropsTrickleReaders(t *testing.T) {
	const replySize = 6 << 20
	blob := strings.Repeat("r", replySize)
	srv, _ := startServer(t, rpc.Config{MemoryBudget: 8 << 20, FrameTimeout: 5 * time.Second}, func(s *rpc.Server) {
		s.Handle("report", rpc.Func(func(json.RawMessage) (any, error) { return blob, nil }))
		s.Handle("ingest", rpc.Func(func(json.RawMessage) (any, error) { return "stored", nil }))
	})

	// The hogs: 2 KiB every 20 ms (about 100 KB/s), announcing a 536-byte
	// MSS (the Internet's default) and a small receive buffer, so that
	// their kernel acknowledges a little at a time.
	stop := make(chan struct{})
	var hogs sync.WaitGroup
	defer func() { close(stop); hogs.Wait() }()
	for i := range 2 {
		nc := mssDial(t, srv.Addr().String(), 536, 4<<10)
		nc.Write([]byte(reqFrame(`"report"`, `null`, strconv.Itoa(i))))
		hogs.Go(func() {
			buf := make([]byte, 2<<10)
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := nc.Read(buf); err != nil {
					return // dropped
				}
			}
		})
	}
	if !eventually(10*time.Second, func() bool { return limits(srv).MemoryHeldBytes > 8<<20 }) {
		t.Fatalf("the hogs' replies hold %d bytes", limits(srv).MemoryHeldBytes)
	}

	// The honest client uploads 1 MiB.
	nc := rawDial(t, srv, 0)
	c := &client{t: t, nc: nc, br: bufio.NewReader(nc)}
	start := time.Now()
	go func() {
		nc.SetWriteDeadline(time.Now().Add(20 * time.Second))
		nc.Write([]byte(reqFrame(`"ingest"`, `"`+strings.Repeat("d", 1<<20)+`"`, `7`)))
	}()
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := readNestFrame(c.br)
	l := limits(srv)
	if err != nil || got != valueReply(`"stored"`, `7`) {
		t.Fatalf("honest 1 MiB upload after %v: got %.80q, %v; want its reply. Peers taking ~100 KB/s (docs: must take 160 KB/s) were not shed: slow_consumers=%d over_budget=%d memory_held=%d of %d",
			time.Since(start).Round(time.Millisecond), got, err, l.SlowConsumers, l.OverBudget, l.MemoryHeldBytes, 8<<20)
	}
	t.Logf("served after %v; slow_consumers=%d", time.Since(start).Round(time.Millisecond), l.SlowConsumers)
}

// mssDial dials addr with a TCP MSS of mss (an option any peer may send in
// its SYN) and a receive buffer of rcvbuf.
func mssDial(t *testing.T, addr string, mss, rcvbuf int) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_MAXSEG, mss)
			if serr == nil {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
			}
		})
		return serr
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc.(*net.TCPConn)
}
