package rpc

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"time"
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
	errTLSWriteFailed    = errors.New("rpc: TLS write from inside a read failed")
)

// tlsWriteError is what reads return once a write failed: errTLSWriteFailed
// and its cause. It does not unwrap to the cause: a write's
// os.ErrDeadlineExceeded returned by Read would be taken by the reader for
// one of its own read deadlines (and read again, for ever).
type tlsWriteError struct{ cause error }

func (e *tlsWriteError) Error() string        { return errTLSWriteFailed.Error() + ": " + e.cause.Error() }
func (e *tlsWriteError) Is(target error) bool { return target == errTLSWriteFailed }

// timedOut reports whether the write failed at its deadline.
func (e *tlsWriteError) timedOut() bool { return errors.Is(e.cause, os.ErrDeadlineExceeded) }

// tlsListener is tls.NewListener over connections whose reads are capped
// (handshakeCapped).
type tlsListener struct {
	net.Listener
	cfg          *tls.Config
	writeTimeout time.Duration
}

func (l tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(&handshakeCapped{Conn: c, left: maxHandshakeBytes, err: errHandshakeTooLarge, writeTimeout: l.writeTimeout}, l.cfg), nil
}

// handshakeCapped fails a read once the peer sent left more bytes: the
// handshake's cap, then, from handshakeDone on, the cap on bytes that
// deliver no data, renewed by dataRead. Only the goroutine reading the
// connection touches it (the handshake, then readers started after it).
type handshakeCapped struct {
	net.Conn
	left int
	err  error

	// crypto/tls writes on its own from inside Read: the answer to a TLS
	// 1.3 KeyUpdate that asks for one, alerts. Those writes get the write
	// deadline the batch writer left, which is stale (in the past once
	// WriteTimeout has passed since its last write: the answer fails,
	// crypto/tls keeps its read key, and the peer's next record fails as
	// "bad record MAC") or none (a connection that never sent a reply: a
	// peer that does not read blocks the reader in Write for ever). So a
	// write finding no live deadline gets WriteTimeout of its own.
	//
	// crypto/tls keeps the error of such a write for the next Write and
	// goes on reading: a peer that sends KeyUpdates and reads nothing
	// would cost the reader WriteTimeout per KeyUpdate, for ever, on a
	// connection no reply can use any more. So once a write failed, reads
	// fail too (wfail), and the connection is dropped as the batch
	// writer's failures are.
	writeTimeout time.Duration
	wdl          atomic.Int64 // the write deadline set: UnixNano, 0 none, -1 one already past when set
	wfail        atomic.Pointer[tlsWriteError]

	// After the handshake, bytes of a record on its way are progress
	// (onBytes): crypto/tls delivers none of a record's data before the
	// record is whole, and a 16 KiB record from a peer on a slow link can
	// take longer than EvictIdleAfter (the connection looked idle and was
	// evicted) or FrameTimeout (it looked silent mid-frame and was
	// dropped) although its bytes arrived steadily. Only for FrameTimeout
	// after the last data, as a partial frame is kept no longer: a peer
	// trickling a record that never ends goes back to looking idle
	// (evictable) and silent, as it did.
	onBytes     func(now int64) // nil during the handshake: its bytes are no activity
	activeFor   int64           // FrameTimeout; 0 or less: no bound
	noDataSince int64           // monotime of the first raw bytes since the last data, 0 if none
}

func (h *handshakeCapped) noteWriteDeadline(t time.Time) {
	switch {
	case t.IsZero():
		h.wdl.Store(0)
	case !t.After(time.Now()):
		h.wdl.Store(-1) // meant to fail the write (a forced Shutdown)
	default:
		h.wdl.Store(t.UnixNano())
	}
}

func (h *handshakeCapped) SetDeadline(t time.Time) error {
	h.noteWriteDeadline(t)
	return h.Conn.SetDeadline(t)
}

func (h *handshakeCapped) SetWriteDeadline(t time.Time) error {
	h.noteWriteDeadline(t)
	return h.Conn.SetWriteDeadline(t)
}

func (h *handshakeCapped) Write(b []byte) (int, error) {
	if h.writeTimeout > 0 {
		now := time.Now()
		if d := h.wdl.Load(); d == 0 || d > 0 && d <= now.UnixNano() {
			h.SetWriteDeadline(now.Add(h.writeTimeout))
		}
	}
	n, err := h.Conn.Write(b)
	if err != nil {
		h.wfail.CompareAndSwap(nil, &tlsWriteError{err})
	}
	return n, err
}

func (h *handshakeCapped) Read(b []byte) (int, error) {
	if e := h.wfail.Load(); e != nil {
		return 0, e
	}
	if h.left <= 0 {
		return 0, h.err
	}
	if len(b) > h.left {
		b = b[:h.left]
	}
	n, err := h.Conn.Read(b)
	h.left -= n
	if n > 0 && h.onBytes != nil {
		now := monotime()
		if h.noDataSince == 0 {
			h.noDataSince = now
		}
		if h.activeFor <= 0 || now-h.noDataSince < h.activeFor {
			h.onBytes(now)
		}
	}
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
func (h *handshakeCapped) dataRead() {
	h.left, h.err, h.noDataSince = maxNoDataBytes, errTLSNoData, 0
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
