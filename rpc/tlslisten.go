package rpc

import (
	"crypto/tls"
	"errors"
	"net"
)

// maxHandshakeBytes bounds what a TLS peer may send before its handshake
// completes. crypto/tls buffers a handshake message whole before it checks
// it (a Certificate message may announce 256 KiB, asked for or not) and
// keeps its buffers for the connection's life: without a cap, a peer held
// about 556 KiB per connection for FrameTimeout, charged to nothing. 32 KiB
// is room for a ClientHello and a client certificate chain.
const maxHandshakeBytes = 32 << 10

var errHandshakeTooLarge = errors.New("rpc: TLS handshake larger than 32 KiB")

// tlsListener is tls.NewListener over connections whose reads are capped
// until the handshake completes.
type tlsListener struct {
	net.Listener
	cfg *tls.Config
}

func (l tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(&handshakeCapped{Conn: c, left: maxHandshakeBytes}, l.cfg), nil
}

// handshakeCapped reads at most left bytes until shaken is set; only the
// goroutine reading the connection touches its fields (the handshake, then
// readers started after it).
type handshakeCapped struct {
	net.Conn
	left   int
	shaken bool
}

func (h *handshakeCapped) Read(b []byte) (int, error) {
	if h.shaken {
		return h.Conn.Read(b)
	}
	if h.left <= 0 {
		return 0, errHandshakeTooLarge
	}
	if len(b) > h.left {
		b = b[:h.left]
	}
	n, err := h.Conn.Read(b)
	h.left -= n
	return n, err
}

// handshakeDone lifts the cap on tc's reads, if it has one.
func handshakeDone(tc *tls.Conn) {
	if h, ok := tc.NetConn().(*handshakeCapped); ok {
		h.shaken = true
	}
}

// netConnBeneath returns the connection TLS (or another wrapper with a
// NetConn method) runs over, unwrapped from the handshake cap; nc itself
// when it wraps nothing.
func netConnBeneath(nc net.Conn) net.Conn {
	if u, ok := nc.(interface{ NetConn() net.Conn }); ok {
		nc = u.NetConn()
	}
	if h, ok := nc.(*handshakeCapped); ok {
		nc = h.Conn
	}
	return nc
}
