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
// (160 KB/s), or be shed. Each case once held the budget against it, so
// that an honest client's upload waited for the budget until FrameTimeout
// and was dropped (over_budget):
//   - small segments: when bytes drained from the kernel's send buffer
//     first counted as progress, any drain between two judgements spared a
//     connection: two peers asking for 6 MiB replies and taking 2 KiB every
//     20 ms (about 100 KB/s), announcing a small MSS and receive buffer so
//     that their kernel acknowledges a little at a time, held 12 MiB of an
//     8 MiB budget. A drain counts only as a piece's worth (16 KiB).
//   - big piece: a write begun while the budget had room asks for a
//     256 KiB piece and is judged every 16 × 100 ms; 16 KiB acknowledged
//     in that time (10 KB/s) counted as progress, so a peer taking 15 KB/s
//     kept its 7 MiB reply. A piece of n × 16 KiB must see n × 16 KiB
//     acknowledged now.
func TestShedderDropsTrickleReaders(t *testing.T) {
	for _, tc := range []struct {
		name            string
		hogs, replySize int
		readSize        int
		readEvery       time.Duration
		held            int64 // held by the hogs' replies before the upload begins
		uploadSize      int
		frameTimeout    time.Duration
	}{
		{"small segments", 2, 6 << 20, 2 << 10, 20 * time.Millisecond, 8<<20 + 1, 1 << 20, 5 * time.Second},
		{"big piece", 1, 7 << 20, 1536, 100 * time.Millisecond, 7 << 20, 2 << 20, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blob := strings.Repeat("r", tc.replySize)
			srv, _ := startServer(t, rpc.Config{MemoryBudget: 8 << 20, FrameTimeout: tc.frameTimeout}, func(s *rpc.Server) {
				s.Handle("report", rpc.Func(func(json.RawMessage) (any, error) { return blob, nil }))
				s.Handle("ingest", rpc.Func(func(json.RawMessage) (any, error) { return "stored", nil }))
			})

			// The hogs announce a 536-byte MSS (the Internet's default) and
			// a small receive buffer, so that their kernel acknowledges a
			// little at a time, and read readSize every readEvery.
			stop := make(chan struct{})
			var hogs sync.WaitGroup
			defer func() { close(stop); hogs.Wait() }()
			for i := range tc.hogs {
				nc := mssDial(t, srv.Addr().String(), 536, 4<<10)
				nc.Write([]byte(reqFrame(`"report"`, `null`, strconv.Itoa(i))))
				hogs.Go(func() {
					buf := make([]byte, tc.readSize)
					for {
						select {
						case <-stop:
							return
						case <-time.After(tc.readEvery):
						}
						nc.SetReadDeadline(time.Now().Add(5 * time.Second))
						if _, err := nc.Read(buf); err != nil {
							return // dropped
						}
					}
				})
			}
			if !eventually(10*time.Second, func() bool { return limits(srv).MemoryHeldBytes >= tc.held }) {
				t.Fatalf("the hogs' replies hold %d bytes", limits(srv).MemoryHeldBytes)
			}

			// The honest client uploads: the budget is short.
			nc := rawDial(t, srv, 0)
			c := &client{t: t, nc: nc, br: bufio.NewReader(nc)}
			start := time.Now()
			go func() {
				nc.SetWriteDeadline(time.Now().Add(20 * time.Second))
				nc.Write([]byte(reqFrame(`"ingest"`, `"`+strings.Repeat("d", tc.uploadSize)+`"`, `7`)))
			}()
			nc.SetReadDeadline(time.Now().Add(20 * time.Second))
			got, err := readNestFrame(c.br)
			l := limits(srv)
			if err != nil || got != valueReply(`"stored"`, `7`) {
				t.Fatalf("honest upload after %v: got %.80q, %v; want its reply. Peers taking %d B every %v (docs: must take 160 KB/s) were not shed: slow_consumers=%d over_budget=%d memory_held=%d of %d",
					time.Since(start).Round(time.Millisecond), got, err, tc.readSize, tc.readEvery, l.SlowConsumers, l.OverBudget, l.MemoryHeldBytes, 8<<20)
			}
			t.Logf("served after %v; slow_consumers=%d", time.Since(start).Round(time.Millisecond), l.SlowConsumers)
		})
	}
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
