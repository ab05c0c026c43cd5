package rpc

import (
	"crypto/tls"
	"errors"
	"net"
)

// maxHandshakeBytes bounds what a TLS peer may send before its handshake
// completes, and maxNoDataBytes what it may send after it without
// delivering a byte of data. crypto/tls buffers a handshake message whole
// before it checks it (a Certificate message may announce 256 KiB, asked
// for or not, during the handshake or after it) and keeps its buffers for
// the connection's life: without a cap, a peer held about 556 KiB per
// connection, charged to nothing, and after the handshake for as long as
// the connection lived (no data: an idle connection). 32 KiB is room for a
// ClientHello and a client certificate chain; 64 KiB for several records
// of data.
const (
	maxHandshakeBytes = 32 << 10
	maxNoDataBytes    = 64 << 10
)

var (
	errHandshakeTooLarge = errors.New("rpc: TLS handshake larger than 32 KiB")
	errTLSNoData         = errors.New("rpc: 64 KiB of TLS records carried no data")
)

// tlsListener is tls.NewListener over connections whose reads are capped
// (handshakeCapped).
type tlsListener struct {
	net.Listener
	cfg *tls.Config
}

func (l tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(&handshakeCapped{Conn: c, left: maxHandshakeBytes, err: errHandshakeTooLarge}, l.cfg), nil
}

// handshakeCapped fails a read once the peer sent left more bytes: the
// handshake's cap, then, from handshakeDone on, the cap on bytes that
// deliver no data, renewed by dataRead. Only the goroutine reading the
// connection touches it (the handshake, then readers started after it).
type handshakeCapped struct {
	net.Conn
	left int
	err  error
}

func (h *handshakeCapped) Read(b []byte) (int, error) {
	if h.left <= 0 {
		return 0, h.err
	}
	if len(b) > h.left {
		b = b[:h.left]
	}
	n, err := h.Conn.Read(b)
	h.left -= n
	return n, err
}

// handshakeDone sets the cap of tc's reads (if it has one) to what may
// come without data, and returns it, for dataRead.
func handshakeDone(tc *tls.Conn) *handshakeCapped {
	h, ok := tc.NetConn().(*handshakeCapped)
	if ok {
		h.dataRead()
	}
	return h
}

// dataRead renews the cap: the TLS connection delivered data.
func (h *handshakeCapped) dataRead() { h.left, h.err = maxNoDataBytes, errTLSNoData }

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
