//go:build !unix

package rpc

import (
	"net"
	"syscall"
)

// rawConnOf returns nil: reads go through net.Conn.Read.
func rawConnOf(net.Conn) syscall.RawConn { return nil }

// readRaw is not used where rawConnOf returns nil.
func (c *conn) readRaw(uintptr) bool { panic("rpc: readRaw without a raw connection") }
