//go:build unix && !aix && !linux

package rpc

import (
	"crypto/tls"
	"net"
	"syscall"
)

// peerGone reports whether the peer of nc closed or reset the connection,
// reading nothing: a non-blocking MSG_PEEK of one byte. It uses the raw
// descriptor without the read lock (Control, not Read), so it never waits
// for a reader blocked in Read. For TLS it looks at the TCP connection
// beneath. It reports false where it cannot tell, and while the peer's
// unread bytes (a request, a TLS close_notify) hide its FIN from the peek.
func peerGone(nc net.Conn) bool {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	rc := rawConnOf(nc)
	if rc == nil {
		return false
	}
	gone := false
	rc.Control(func(fd uintptr) {
		var b [1]byte
		for {
			n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if err == syscall.EINTR {
				continue
			}
			gone = (err == nil && n == 0) || (err != nil && err != syscall.EAGAIN && err != syscall.EWOULDBLOCK)
			return
		}
	})
	return gone
}
