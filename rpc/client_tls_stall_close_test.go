package rpc_test

import (
	"context"
	"crypto/tls"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientTLSStalledWriteFailsPromptly: over TLS, a server that completes
// the handshake and then reads nothing. A call without a deadline is
// bounded by WithWriteTimeout (README: "a write that makes no progress for
// WithWriteTimeout fails the connection ... that also bounds a call without
// a deadline"). The write does fail after the timeout, but the client then
// closes the tls.Conn with Close, which first tries to send a close_notify
// alert into the full socket under a 5 s write deadline of crypto/tls's
// own: the call (or the writer goroutine, and Client.Close waiting for it)
// is held 5 s more, and the alert is appended to a torn record. The server
// side avoids this (conn.writeFailed closes beneath TLS).
func TestClientTLSStalledWriteFailsPromptly(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			nc.(*net.TCPConn).SetReadBuffer(4 << 10)
			tc := tls.Server(nc, pki.serverConfig(false))
			if tc.Handshake() != nil {
				nc.Close()
				continue
			}
			mu.Lock()
			held = append(held, nc) // never read again
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		for _, nc := range held {
			nc.Close()
		}
		mu.Unlock()
	})

	const writeTimeout = 200 * time.Millisecond
	c := newTestClient(t, ln.Addr().String(), rpc.WithTLS(pki.clientConfig(nil)),
		rpc.WithHeartbeat(0, 0), rpc.WithWriteTimeout(writeTimeout))
	big := strings.Repeat("x", 16<<20)
	done := make(chan error, 1)
	go func() { done <- c.Send(context.Background(), "upload", big, nil) }()
	select {
	case err := <-done:
		t.Logf("Send = %v", err)
	case <-time.After(4 * time.Second): // 20 write timeouts; the close_notify held it 5 s more
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		t.Errorf("Send without a deadline still blocked 4 s into a write that stalled (write timeout %v); in tls.(*Conn).closeNotify: %v",
			writeTimeout, strings.Contains(stacks, "closeNotify"))
		err := <-done
		t.Logf("Send = %v, eventually", err)
	}
}
