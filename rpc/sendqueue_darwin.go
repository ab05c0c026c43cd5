package rpc

import "golang.org/x/sys/unix"

// fdSendQueued asks for the bytes in the send buffer (SO_NWRITE: sent and
// not acknowledged, or not sent yet).
func fdSendQueued(fd uintptr) (int, bool) {
	v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_NWRITE)
	return v, err == nil
}
