//go:build linux

package loadtest

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDialTimeoutIsNotAHandshake: with TLS, a TCP connect that times out
// (the server's accept queue full, its kernel dropping our SYNs) used to be
// reported as "no TLS handshake within 10s", though no connection was ever
// made: net's dial timeout matches context.DeadlineExceeded too. The
// connect and the handshake are apart now.
func TestDialTimeoutIsNotAHandshake(t *testing.T) {
	old := dialTimeout
	dialTimeout = time.Second
	t.Cleanup(func() { dialTimeout = old })
	// A listener with a backlog of 0 that never accepts: once its queue
	// holds a connection, the kernel drops new SYNs.
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*syscall.SockaddrInet4).Port}).String()
	// Fill the queue.
	var fill []net.Conn
	defer func() {
		for _, c := range fill {
			c.Close()
		}
	}()
	for i := 0; i < 4; i++ {
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			break // the queue is full: SYNs dropped
		}
		fill = append(fill, c)
	}
	if c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond); err == nil {
		c.Close()
		if os.Getenv("CI") == "true" {
			t.Fatal("could not fill the accept queue")
		}
		t.Skip("could not fill the accept queue")
	}

	_, err = dial(context.Background(), Config{Addr: addr, TLS: &tls.Config{InsecureSkipVerify: true}})
	if err == nil {
		t.Fatal("dial succeeded")
	}
	if strings.Contains(err.Error(), "TLS handshake") {
		t.Errorf("a TCP connect timeout (no connection made) reported as %q; want it not to blame the TLS handshake", err)
	}
}
