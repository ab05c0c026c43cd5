//go:build !plan9

package rpc

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
)

// TestExhaustedErrnoPerSystem: the accept loop's classifier knows each
// system's errors for running out of descriptors, sockets or memory, as
// Accept returns them (wrapped in *net.OpError and *os.SyscallError). On
// Windows they are Winsock's (WSAEMFILE 10024, WSAENOBUFS 10055), which
// Errno.Temporary does not name there; checked here on every system by
// giving the classifier Windows's values.
func TestExhaustedErrnoPerSystem(t *testing.T) {
	accept := func(call string, e syscall.Errno) error {
		return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError(call, e)}
	}
	tests := []struct {
		goos string
		err  error
		want bool
	}{
		{"windows", accept("socket", 10024), true},    // WSAEMFILE
		{"windows", accept("socket", 10055), true},    // WSAENOBUFS
		{"windows", accept("acceptex", 10054), false}, // WSAECONNRESET: the net package retries it
		{"windows", accept("acceptex", 10038), false}, // WSAENOTSOCK: a closed listener
		{"windows", errors.New("accept: broken"), false},
		{"linux", accept("accept4", syscall.EMFILE), true},
		{"linux", accept("accept4", syscall.ENFILE), true},
		{"linux", accept("accept4", syscall.ENOBUFS), true},
		{"linux", accept("accept4", syscall.ENOMEM), true},
		{"linux", accept("accept4", syscall.EINVAL), false},
		{"linux", net.ErrClosed, false},
	}
	for _, tt := range tests {
		if got := exhaustedErrno(tt.err, tt.goos); got != tt.want {
			t.Errorf("exhaustedErrno(%v, %s) = %v, want %v", tt.err, tt.goos, got, tt.want)
		}
	}
}
