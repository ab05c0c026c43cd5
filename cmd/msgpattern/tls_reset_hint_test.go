package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestTLSHandshakeClosedHintPerSystem: a TLS client whose handshake the
// server ends (a plaintext server closing on a ClientHello) is told the
// server may not serve TLS, whether the close reads as EOF or as a reset.
// A reset is ECONNRESET on Unix, but Windows reports Winsock's
// WSAECONNRESET (10054), which is not syscall.ECONNRESET there (Go's own
// value on Windows, which no read returns): the hint was left out.
func TestTLSHandshakeClosedHintPerSystem(t *testing.T) {
	read := func(call string, cause error) error {
		return fmt.Errorf("%w: %w", rpc.ErrUnavailable, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError(call, cause)})
	}
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"EOF", fmt.Errorf("%w: %w", rpc.ErrUnavailable, io.EOF)},
		{"ECONNRESET", read("read", syscall.ECONNRESET)},
		{"WSAECONNRESET", read("wsarecv", syscall.Errno(10054))},
	} {
		var c clientTLS
		if hint := c.hint(tt.err, &tls.Config{}); !strings.Contains(hint, "during the TLS handshake") {
			t.Errorf("%s: hint %q, want one that the server closed the connection during the TLS handshake", tt.name, hint)
		}
	}
}
