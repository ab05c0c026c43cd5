//go:build !unix || aix

package rpc

import "net"

// peerGone reports false: without MSG_PEEK (MSG_DONTWAIT on AIX) a departed peer is seen when the
// reader next reads.
func peerGone(net.Conn) bool { return false }
