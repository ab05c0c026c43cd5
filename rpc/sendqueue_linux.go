package rpc

import (
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendQueued reports how many bytes written to nc the peer's system has
// not yet acknowledged (SIOCOUTQ): what is still in the kernel's send
// buffer. ok is false where it cannot tell (not a socket of the standard
// library's, or the ioctl failed).
func sendQueued(nc net.Conn) (n int, ok bool) {
	rc := rawConnOf(netConnBeneath(nc))
	if rc == nil {
		return 0, false
	}
	rc.Control(func(fd uintptr) {
		// A C int: x/sys's IoctlGetInt reads it into a Go int, wrong on
		// big-endian 64-bit systems.
		var v int32
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, unix.SIOCOUTQ, uintptr(unsafe.Pointer(&v)))
		n, ok = int(v), errno == 0
	})
	return n, ok
}
