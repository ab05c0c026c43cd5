//go:build linux || darwin

package rpc

import "net"

// sendQueued reports how many bytes written to nc are still in the
// kernel's send buffer, sent but not acknowledged by the peer's system or
// not sent yet (fdSendQueued, per system). Those bytes shrink only as the
// peer takes them: once its receive buffer is full, as its application
// reads. ok is false where it cannot tell (not a socket of the standard
// library's, or the system call failed). For TLS it looks at the TCP
// connection beneath.
func sendQueued(nc net.Conn) (n int, ok bool) {
	rc := rawConnOf(netConnBeneath(nc))
	if rc == nil {
		return 0, false
	}
	rc.Control(func(fd uintptr) { n, ok = fdSendQueued(fd) })
	return n, ok
}
