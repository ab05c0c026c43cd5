package rpc

import "net"

// ServeConnForTest serves nc as an accepted connection on the calling
// goroutine until its reader stops: for the in-process benchmark, which
// feeds frames without a socket.
func ServeConnForTest(s *Server, nc net.Conn) { newConn(s, nc).readLoop() }
