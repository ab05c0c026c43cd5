package main

import (
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestTracedBenchInterruptWhileConnecting: bench stops at SIGINT (exit 130)
// whatever it is doing. Traced (OTEL_* environment), it connects its -c
// rpc.Clients eagerly, without a context, for up to 10 s each: against a
// server that accepts but never completes the TLS handshake, SIGINT waited
// for the whole dial timeout (untraced bench, loadtest.Run, stops at once).
func TestTracedBenchInterruptWhileConnecting(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGINT")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c // held open, silent
		}
	}()
	defer func() {
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	}()
	p := startProcEnv(t, []string{"OTEL_TRACES_EXPORTER=console"},
		"bench", "--addr", ln.Addr().String(), "--tls", "--insecure", "-c", "2", "-d", "1s", "--timeout", "500ms", "ping")
	select {
	case c := <-accepted:
		accepted <- c
	case <-time.After(15 * time.Second):
		t.Fatal("bench did not connect")
	}
	// Well under the 10 s dial timeout: an interrupted bench must not
	// wait for it.
	p.signal(t, syscall.SIGINT, 5*time.Second, exitSIGINT)
}
