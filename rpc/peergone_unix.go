//go:build unix && !aix

package rpc

import "net"

// peerGone reports whether the peer of nc closed (or shut down its side of)
// the connection, or reset it, reading nothing (socketGone, per system). It
// uses the raw descriptor without the read lock (Control, not Read), so it
// never waits for a reader blocked in Read. For TLS it looks at the TCP
// connection beneath. It reports false where it cannot tell.
func peerGone(nc net.Conn) bool {
	rc := rawConnOf(netConnBeneath(nc))
	if rc == nil {
		return false
	}
	gone := false
	rc.Control(func(fd uintptr) { gone = socketGone(fd) })
	return gone
}
