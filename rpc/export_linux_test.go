package rpc

import (
	"net"

	"golang.org/x/sys/unix"
)

// SetAcceptedSendBufferForTest sets SO_SNDBUF on the listeners s serves:
// Linux gives the sockets a listener accepts its buffer sizes (locked, so
// not grown by autotuning). Tests that need the server's writes to block
// soon use it; it reports the first error.
func SetAcceptedSendBufferForTest(s *Server, bytes int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ln := range s.listeners {
		if tl, ok := ln.(tlsListener); ok {
			ln = tl.Listener
		}
		rc, err := ln.(*net.TCPListener).SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, bytes)
		}); err != nil {
			return err
		}
		if serr != nil {
			return serr
		}
	}
	return nil
}
