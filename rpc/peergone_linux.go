package rpc

import "golang.org/x/sys/unix"

// socketGone polls fd for POLLRDHUP with no wait, which sees the peer's FIN
// behind unread bytes (a request, a TLS close_notify), as a peek of the
// data cannot.
func socketGone(fd uintptr) bool {
	fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
	for {
		n, err := unix.Poll(fds[:], 0)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
	}
}
