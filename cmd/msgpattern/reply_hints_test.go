package main

import (
	"net"
	"strings"
	"testing"
)

// TestBadReplyHints: when the client itself closes the connection because
// of what the server answered, send and bench say why, and do not blame the
// server ("the server closed the connection without a reply…"): a reply
// announcing a frame over the client's limit (16 Mi UTF-16 units), and an
// answer that is not NestJS framing (no length before its '#'). bench used
// to lose the cause (loadtest.Result had no room for it), and both told an
// answer in another protocol as a close. (Bytes with no '#' at all are not
// a frame yet, as for NestJS: the call waits for its deadline.)
func TestBadReplyHints(t *testing.T) {
	for _, tc := range []struct {
		name, answer, hint string
	}{
		{"too long", "999999999#{", "reply is longer than this client takes"},
		{"not NestJS framing", "HTTP/1.1 400 #1", "not NestJS TCP frames"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := answeringServer(t, tc.answer)
			for _, args := range [][]string{
				{"send", "--addr", addr, "--timeout", "5s", "ping"},
				{"bench", "--addr", addr, "--timeout", "5s", "-n", "1", "ping"},
			} {
				r := runCLI(t, invocation{args: args})
				if r.code == exitOK {
					t.Errorf("%s: exit %d; stderr %q", args[0], r.code, r.stderr)
				}
				if strings.Contains(r.stderr, "the server closed the connection") || !strings.Contains(r.stderr, tc.hint) {
					t.Errorf("%s: want the hint %q, not a close blamed on the server: %q", args[0], tc.hint, r.stderr)
				}
			}
		})
	}
}

// answeringServer listens on loopback and answers the first read of each
// connection with answer, then waits for the client to close.
func answeringServer(t *testing.T, answer string) string {
	t.Helper()
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
				c.Write([]byte(answer))
				c.Read(buf) // until the client closes
			}()
		}
	}()
	return ln.Addr().String()
}
