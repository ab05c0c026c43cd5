//go:build unix && !aix && !linux

package rpc

import "syscall"

// socketGone peeks at one byte of fd without waiting: the end of the
// stream or an error means the peer is gone. Unread bytes (a request, a TLS
// close_notify) hide a FIN behind them: it then reports false.
func socketGone(fd uintptr) bool {
	var b [1]byte
	for {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if err == syscall.EINTR {
			continue
		}
		return (err == nil && n == 0) || (err != nil && err != syscall.EAGAIN && err != syscall.EWOULDBLOCK)
	}
}
