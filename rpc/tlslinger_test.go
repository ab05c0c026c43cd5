package rpc_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestTLSLingerDiscardsPeerInput: conn.lingeringClose "half-closes
// the connection and discards what the peer still sends until it closes
// too, or lingerTimeout passes. Closing a socket with unread input makes the
// kernel send a reset, and a reset can destroy replies the peer has received
// but not yet read". Over TLS its reads go through tls.Conn to the
// handshakeCapped beneath, but lingeringClose never calls received(), so
// the 64 KiB no-data cap is never renewed: after 64 KiB of application data
// from a peer still sending (a pipelining client at Shutdown), the linger
// read fails with errTLSNoData and the socket is closed with input unread:
// the peer gets a reset instead of the end of the stream.
func TestTLSLingerDiscardsPeerInput(t *testing.T) {
	stop, tc, br := tlsEchoed(t, rpc.Config{})

	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	// The server's close_notify: it is lingering now.
	tc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("waiting for the server's close_notify: %v", err)
	}

	// The peer is still sending (it has not seen the end yet): 1 MiB of
	// requests, 16 KiB at a time.
	chunk := []byte(reqFrame(`"echo"`, `"`+strings.Repeat("x", 16<<10-64)+`"`, `2`))
	sent := 0
	for sent < 1<<20 {
		tc.SetWriteDeadline(time.Now().Add(ioTimeout))
		n, err := tc.Write(chunk)
		sent += n
		if err != nil {
			t.Fatalf("the lingering server reset the connection after %d KiB of the peer's data: %v", sent>>10, err)
		}
	}
	// Then the peer closes too: the server's linger ends at once, with
	// everything read — a FIN, not a reset.
	raw := tc.NetConn()
	raw.(*net.TCPConn).CloseWrite()
	raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, raw)
	<-stopped
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("server did not close: %v", err)
		}
		t.Fatalf("after sending %d KiB while the server lingered, the peer got %v, want a clean end of stream (FIN): lingeringClose stopped reading at the 64 KiB TLS no-data cap", sent>>10, err)
	}
}

// tlsEchoed starts a server with cfg over TLS (a test PKI's certificate)
// serving "echo", and dials it with a TLS client that checks one echo
// round trip: it returns the server's stop, and the client's connection
// with the reader the reply was read through.
func tlsEchoed(t *testing.T, cfg rpc.Config) (stop func() error, tc *tls.Conn, br *bufio.Reader) {
	t.Helper()
	p := newTestPKI(t)
	cfg.TLSConfig = p.serverConfig(false)
	s, stop := startServer(t, cfg, func(s *rpc.Server) {
		s.Handle("echo", rpc.ContextFunc(func(_ context.Context, d json.RawMessage) (any, error) { return d, nil }))
	})
	raw, err := net.DialTimeout("tcp", s.Addr().String(), ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	ccfg := p.clientConfig(nil)
	ccfg.ServerName = "127.0.0.1"
	tc = tls.Client(raw, ccfg)
	tc.SetDeadline(time.Now().Add(ioTimeout))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	br = bufio.NewReader(tc)
	if _, err := tc.Write([]byte(reqFrame(`"echo"`, `1`, `1`))); err != nil {
		t.Fatal(err)
	}
	want := valueReply(`1`, `1`)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
		t.Fatalf("reply %q, %v", got, err)
	}
	return stop, tc, br
}
