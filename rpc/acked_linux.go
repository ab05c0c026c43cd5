package rpc

import (
	"net"

	"golang.org/x/sys/unix"
)

// peerAcked reports how many bytes written to nc the peer's system has
// acknowledged, ever (TCP_INFO's tcpi_bytes_acked, Linux 4.1 and later):
// bytes that have left the kernel's send buffer. Once the peer's receive
// buffer is full the count moves only as its application reads, whether
// or not a Write of ours returns (a writer blocked on a full send buffer
// is woken only once half of it is free, and the buffer grows to
// megabytes). ok is false where it cannot tell (not a TCP socket of the
// standard library's, or the call failed); on an older kernel the count
// stays 0, which only hides progress. For TLS it looks at the TCP
// connection beneath.
func peerAcked(nc net.Conn) (uint64, bool) { return ackedCount(nc, false) }

// peerAckedEnd reports the count peerAcked will reach once every byte
// written to nc so far is acknowledged: acknowledged plus still in the
// send buffer (SIOCOUTQ), both in bytes on the wire (for TLS, the
// records, not the plaintext a Write was given).
func peerAckedEnd(nc net.Conn) (uint64, bool) { return ackedCount(nc, true) }

// ackedCount reads TCP_INFO's bytes acknowledged, plus with queued the
// bytes still in the send buffer.
func ackedCount(nc net.Conn, queued bool) (n uint64, ok bool) {
	rc := rawConnOf(netConnBeneath(nc))
	if rc == nil {
		return 0, false
	}
	rc.Control(func(fd uintptr) {
		if !queued {
			info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
			if err == nil {
				n, ok = info.Bytes_acked, true
			}
			return
		}
		// Two system calls: an acknowledgement between them moves bytes
		// from the queue to the count. The queue is read first, so that
		// one makes the sum too high (a ping taken as acknowledged a
		// little late), never too low (taken as acknowledged while bytes
		// before its end still wait). The queue read again unchanged
		// means nothing came between: the sum is exact.
		for range 4 {
			q, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
			if err != nil || q < 0 {
				return
			}
			info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
			if err != nil {
				return
			}
			n, ok = info.Bytes_acked+uint64(q), true
			if again, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ); err != nil || again == q {
				return
			}
		}
	})
	return n, ok
}
