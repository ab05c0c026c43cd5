//go:build unix

package rpc

import (
	"io"
	"net"
	"os"
	"syscall"
)

// rawConnOf returns the RawConn through which the reader may read nc
// itself: only for the standard library's sockets, whose Read does nothing
// more (a type that merely embeds one may have its own Read).
func rawConnOf(nc net.Conn) syscall.RawConn {
	var sc syscall.Conn
	switch c := nc.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// maxRawRead bounds one read, as internal/poll does: some kernels refuse
// larger ones.
const maxRawRead = 1 << 30

// readRaw is the RawConn's read function (c.rawRead): one read into the
// current chunk, or a spare one. When the socket has nothing it reports
// false, to wait, having given the chunk back; or, with rawTry, true.
func (c *conn) readRaw(fd uintptr) bool {
	if c.rbuf == nil {
		need, size := c.nextChunkSize()
		c.rbuf, c.r, c.w = c.srv.spare.get(need, size), 0, 0
	}
	b := c.rbuf[c.w:]
	if len(b) > maxRawRead {
		b = b[:maxRawRead]
	}
	for {
		n, err := syscall.Read(int(fd), b)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			if c.rawTry {
				return true // readIdle moves to a fresh goroutine
			}
			c.releaseIdleChunk()
			return false
		case err != nil:
			c.rawErr = os.NewSyscallError("read", err)
		case n == 0:
			c.rawErr = io.EOF
		default:
			c.rawN = n
		}
		return true
	}
}
