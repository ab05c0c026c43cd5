package rpc

import (
	"net"

	"golang.org/x/sys/unix"
)

// sendQueued reports how many bytes written to nc are still in the
// kernel's send buffer (SO_NWRITE: sent but not acknowledged, or not sent
// yet). ok is false where it cannot tell.
func sendQueued(nc net.Conn) (n int, ok bool) {
	rc := rawConnOf(netConnBeneath(nc))
	if rc == nil {
		return 0, false
	}
	rc.Control(func(fd uintptr) {
		v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_NWRITE)
		n, ok = v, err == nil
	})
	return n, ok
}
