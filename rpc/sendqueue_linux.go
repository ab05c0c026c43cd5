package rpc

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// fdSendQueued asks for the bytes not yet acknowledged (SIOCOUTQ).
func fdSendQueued(fd uintptr) (int, bool) {
	// A C int: x/sys's IoctlGetInt reads it into a Go int, wrong on
	// big-endian 64-bit systems.
	var v int32
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, unix.SIOCOUTQ, uintptr(unsafe.Pointer(&v)))
	return int(v), errno == 0
}
