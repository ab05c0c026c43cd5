package rpc_test

import (
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// streamConn is a net.Conn whose peer sends the same burst of frames over
// and over, left bytes in all, and takes every reply at once: the server's
// own work per request, with no kernel in the way.
type streamConn struct {
	burst []byte // frames, back to back
	off   int    // read position in burst
	left  int    // bytes still to send
	first []byte // the start of what the server wrote
}

func (s *streamConn) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && s.left > 0 {
		k := copy(p[n:min(len(p), n+s.left)], s.burst[s.off:])
		n, s.left, s.off = n+k, s.left-k, (s.off+k)%len(s.burst)
	}
	return n, nil
}

func (s *streamConn) Write(p []byte) (int, error) {
	if len(s.first) < 512 {
		s.first = append(s.first, p[:min(len(p), 512)]...)
	}
	return len(p), nil
}

func (s *streamConn) Close() error                     { return nil }
func (s *streamConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (s *streamConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (s *streamConn) SetDeadline(time.Time) error      { return nil }
func (s *streamConn) SetReadDeadline(time.Time) error  { return nil }
func (s *streamConn) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkServeConn is the server's CPU per request, without sockets:
// frame scan, envelope parse, routing, the typed handler's decode, the
// reply and the GC they cause, on conns connections served in parallel,
// each fed bursts of 64 pipelined frames. cpu-ns/op is the process's CPU
// (the GC's work on other cores included), the figure to compare with
// the suite's server CPU µs/req under a real load; what lies between the
// two is the kernel's and the scheduler's.
func BenchmarkServeConn(b *testing.B) {
	for _, tc := range []struct{ name, pattern, data string }{
		{"sum-typed", "sum", "[1,2]"},
		{"order-typed", "checkout", allocOrderJSON()},
	} {
		for _, conns := range []int{1, 16} {
			b.Run(tc.name+"/conns="+strconv.Itoa(conns), func(b *testing.B) {
				// As the suite's msgpattern target: no rate limit, no retries.
				s := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, RetryAttempts: -1},
					slog.New(slog.NewTextHandler(io.Discard, nil)))
				registerTypedHandlers(s)
				var burst []byte
				for i := range 64 {
					burst = append(burst, frame(reqBody(`"`+tc.pattern+`"`, tc.data, strconv.Itoa(1000+i)))...)
				}
				per := (b.N + conns - 1) / conns
				peers := make([]*streamConn, conns)
				for i := range peers {
					peers[i] = &streamConn{burst: burst, left: per * len(burst) / 64}
				}
				b.ReportAllocs()
				cpu0, _ := processCPU()
				b.ResetTimer()
				var wg sync.WaitGroup
				for _, p := range peers {
					wg.Go(func() { rpc.ServeConnForTest(s, p) })
				}
				wg.Wait()
				b.StopTimer()
				if cpu1, ok := processCPU(); ok {
					b.ReportMetric(float64(cpu1-cpu0)/float64(per*conns), "cpu-ns/op")
				}
				if out := string(peers[0].first); !strings.Contains(out, `"isDisposed":true,"id":1000}`) || strings.Contains(out, `"err"`) {
					b.Fatalf("first replies %q", out)
				}
			})
		}
	}
}
