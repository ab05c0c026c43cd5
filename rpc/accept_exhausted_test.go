//go:build !plan9

package rpc_test

import (
	"context"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// failOnceListener fails its first Accept with err, as the standard
// library reports a failed accept, then accepts.
type failOnceListener struct {
	net.Listener
	err  error
	once sync.Once
}

func (l *failOnceListener) Accept() (net.Conn, error) {
	var err error
	l.once.Do(func() { err = l.err })
	if err != nil {
		return nil, err
	}
	return l.Listener.Accept()
}

// TestAcceptRetriesWhenOutOfResources: the accept loop waits and tries
// again when the system is out of descriptors, sockets or memory ("which
// peers can cause", CHANGELOG), rather than stop the listener for good.
// Go's Errno.Temporary names EMFILE and ENFILE only; Linux's accept fails
// with ENOBUFS or ENOMEM at the socket buffers' limit, and on Windows
// (creating the socket, then AcceptEx) with WSAEMFILE or WSAENOBUFS, which are not
// Temporary there: the listener was closed and Serve returned.
func TestAcceptRetriesWhenOutOfResources(t *testing.T) {
	type errnoCase struct {
		name  string
		call  string
		errno syscall.Errno
	}
	cases := []errnoCase{
		{"EMFILE", "accept4", syscall.EMFILE},
		{"ENFILE", "accept4", syscall.ENFILE},
		{"ENOBUFS", "accept4", syscall.ENOBUFS},
		{"ENOMEM", "accept4", syscall.ENOMEM},
	}
	if runtime.GOOS == "windows" {
		cases = []errnoCase{
			{"WSAEMFILE", "socket", 10024},
			{"WSAENOBUFS", "socket", 10055},
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln := &failOnceListener{Listener: inner, err: &net.OpError{
				Op: "accept", Net: "tcp", Addr: inner.Addr(), Err: os.NewSyscallError(tc.call, tc.errno)}}
			s := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1}, discardLogger())
			s.Handle("ping", rpc.Typed(func(context.Context, struct{}) (string, error) { return "pong", nil }))
			served := make(chan error, 1)
			go func() { served <- s.Serve(ln) }()
			defer func() {
				s.Close()
				<-served
			}()
			c := newTestClient(t, inner.Addr().String(), rpc.WithHeartbeat(0, 0))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var out string
			callErr := c.Send(ctx, "ping", nil, &out)
			select {
			case err := <-served:
				served <- err
				t.Fatalf("Serve returned %v after one Accept failed with %s: the listener stopped for good", err, tc.name)
			default:
			}
			if callErr != nil || out != "pong" {
				t.Fatalf("call after one Accept failed with %s: %q, %v; want pong", tc.name, out, callErr)
			}
		})
	}
}
