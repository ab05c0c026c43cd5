package rpc

import (
	"crypto/tls"
	"net"

	"golang.org/x/sys/unix"
)

// peerGone reports whether the peer of nc closed (or shut down its side of)
// the connection, or reset it: poll for POLLRDHUP with no wait, which sees
// the FIN behind unread bytes (a request, a TLS close_notify) as a peek of
// the data cannot. It uses the raw descriptor without the read lock
// (Control, not Read), so it never waits for a reader blocked in Read. For
// TLS it looks at the TCP connection beneath.
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
		fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
		for {
			n, err := unix.Poll(fds[:], 0)
			if err == unix.EINTR {
				continue
			}
			gone = err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
			return
		}
	})
	return gone
}
