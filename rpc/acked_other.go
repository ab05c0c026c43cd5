//go:build !linux

package rpc

import "net"

// peerAcked cannot tell here: progress on a write is seen only as its
// Write calls return (see Config.WriteTimeout and WithHeartbeat).
func peerAcked(net.Conn) (uint64, bool) { return 0, false }

// peerAckedEnd cannot tell here either.
func peerAckedEnd(net.Conn) (uint64, bool) { return 0, false }
