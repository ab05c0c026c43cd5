//go:build !plan9

package rpc

import (
	"errors"
	"runtime"
	"syscall"
)

// Windows's Winsock errors for a system out of sockets or buffers, which
// its syscall package does not name (its EMFILE is a value of Go's own
// that Winsock never returns).
const (
	wsaEMFILE  syscall.Errno = 10024 // WSAEMFILE: too many open sockets
	wsaENOBUFS syscall.Errno = 10055 // WSAENOBUFS: no buffer space available
)

// acceptExhausted reports whether err, from Accept, says the system is out
// of descriptors, sockets or memory for now: the accept loop waits and
// tries again, as for a Temporary error. Errno.Temporary names EMFILE and
// ENFILE only, and on Windows an EMFILE that accept never returns: there
// it fails with WSAEMFILE or WSAENOBUFS instead, and Linux's accept fails
// with ENOBUFS or ENOMEM at the socket buffers' limit.
func acceptExhausted(err error) bool { return exhaustedErrno(err, runtime.GOOS) }

// exhaustedErrno is acceptExhausted for the system goos.
func exhaustedErrno(err error, goos string) bool {
	var e syscall.Errno
	if !errors.As(err, &e) {
		return false
	}
	if goos == "windows" {
		return e == wsaEMFILE || e == wsaENOBUFS
	}
	return e == syscall.EMFILE || e == syscall.ENFILE || e == syscall.ENOBUFS || e == syscall.ENOMEM
}
