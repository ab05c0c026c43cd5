//go:build !linux && !darwin

package rpc

import "net"

// sendQueued cannot tell here: a ping written behind a big request is
// timed from when its write returned, though the server may still be
// reading the request out of the kernel's send buffer (see
// WithHeartbeat).
func sendQueued(net.Conn) (int, bool) { return 0, false }
