package rpc_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// smallSendBuf accepts TCP connections with a small send buffer, so that a
// reply backs up against its reader's pace at once (loopback buffers are
// otherwise megabytes deep).
type smallSendBuf struct{ net.Listener }

func (l smallSendBuf) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err == nil {
		nc.(*net.TCPConn).SetWriteBuffer(32 << 10)
	}
	return nc, err
}

// TestTLSSteadyReaderKept: a peer is dropped as a slow consumer "when a
// write makes no progress for WriteTimeout". A TLS connection cannot resume
// a write that timed out, so each Write must finish within the timeout:
// with 256 KiB pieces a peer steadily reading 100 KiB/s, never silent for
// more than 80 ms, was dropped with WriteTimeout 2 s (with the default
// 10 s, any TLS peer under ~26 KiB/s), while the same peer over plain TCP
// got its whole reply. TLS writes go in 16 KiB pieces (a record) now.
func TestTLSSteadyReaderKept(t *testing.T) {
	p := newTestPKI(t)
	const size = 512 << 10
	big := strings.Repeat("x", size)
	for _, useTLS := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "tls"}[useTLS]
		t.Run(name, func(t *testing.T) {
			s := rpc.NewServer(&rpc.Config{WriteTimeout: 2 * time.Second, RateLimitPerSec: -1, RetryAttempts: -1}, discardLogger())
			s.Handle("big", rpc.ContextFunc(func(context.Context, json.RawMessage) (any, error) { return big, nil }))
			raw, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var ln net.Listener = smallSendBuf{raw}
			if useTLS {
				ln = tls.NewListener(ln, p.serverConfig(false))
			}
			served := make(chan struct{})
			go func() { s.Serve(ln); close(served) }()
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				s.Shutdown(ctx)
				<-served
			})

			d, err := net.DialTimeout("tcp", raw.Addr().String(), ioTimeout)
			if err != nil {
				t.Fatal(err)
			}
			tc := d.(*net.TCPConn)
			tc.SetReadBuffer(16 << 10)
			t.Cleanup(func() { tc.Close() })
			var nc net.Conn = tc
			if useTLS {
				cfg := p.clientConfig(nil)
				cfg.ServerName = "localhost"
				c := tls.Client(tc, cfg)
				c.SetDeadline(time.Now().Add(ioTimeout))
				if err := c.Handshake(); err != nil {
					t.Fatalf("handshake: %v", err)
				}
				nc = c
			}
			nc.SetWriteDeadline(time.Now().Add(ioTimeout))
			if _, err := nc.Write([]byte(reqFrame(`"big"`, `null`, `1`))); err != nil {
				t.Fatal(err)
			}
			// Read steadily: 8 KiB every 80 ms (100 KiB/s): a 256 KiB piece
			// takes 2.6 s, a 16 KiB one 160 ms, of a 2 s timeout.
			want := len(valueReply(`"`+big+`"`, `1`))
			got := 0
			buf := make([]byte, 8<<10)
			for got < want {
				nc.SetReadDeadline(time.Now().Add(ioTimeout))
				n, err := io.ReadFull(nc, buf[:min(len(buf), want-got)])
				got += n
				if err != nil {
					t.Fatalf("connection dropped after %d of %d reply bytes, reading steadily at 100 KiB/s: %v (slow_consumer %d)",
						got, want, err, s.GetMetrics().Limits.SlowConsumers)
				}
				time.Sleep(80 * time.Millisecond)
			}
		})
	}
}
