package main

import (
	"net"
	"strings"
	"testing"
)

// TestBenchReplyTooLargeHint: a server whose reply announces a frame over
// the client's limit (16 Mi UTF-16 units) makes send say "the reply is
// longer than this client takes"; bench, against the same server, blames
// the server: "the server closed the connection without a reply; if it
// serves TLS, connect with --tls…", though the server closed nothing and
// serves no TLS — loadtest.Result drops the cause of the lost connection.
func TestBenchReplyTooLargeHint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				if _, err := c.Read(buf); err != nil {
					return
				}
				c.Write([]byte("999999999#{"))
				c.Read(buf) // until the client closes
			}()
		}
	}()
	addr := ln.Addr().String()
	send := runCLI(t, invocation{args: []string{"send", "--addr", addr, "--timeout", "5s", "ping"}})
	if !strings.Contains(send.stderr, "reply is longer than this client takes") {
		t.Fatalf("send: want the too-long hint, got %q", send.stderr)
	}
	r := runCLI(t, invocation{args: []string{"bench", "--addr", addr, "--timeout", "5s", "-n", "1", "ping"}})
	t.Logf("bench: exit %d, stderr %q", r.code, r.stderr)
	if r.code != exitFailed {
		t.Errorf("bench: exit %d, want %d", r.code, exitFailed)
	}
	if strings.Contains(r.stderr, "the server closed the connection") || !strings.Contains(r.stderr, "reply is longer than this client takes") {
		t.Errorf("bench blames the server for a reply over the client's frame limit: %q", r.stderr)
	}
}
