package rpc_test

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// captureClientHello returns the first record a TLS client with cfg sends:
// its ClientHello.
func captureClientHello(t *testing.T, cfg *tls.Config) []byte {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		tls.Client(a, cfg).Handshake() // fails once b is closed
		a.Close()
	}()
	defer b.Close()
	b.SetReadDeadline(time.Now().Add(ioTimeout))
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(b, hdr); err != nil {
		t.Fatalf("reading the ClientHello: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
	if _, err := io.ReadFull(b, body); err != nil {
		t.Fatalf("reading the ClientHello: %v", err)
	}
	return append(hdr, body...)
}

// serverHeapInUse is the heap in use after two collections.
// settledHeap waits until the server has read what was sent, the heap in
// use no longer growing, and returns the most it reached.
func settledHeap() uint64 {
	var held uint64
	for i := 0; i < 30; i++ {
		time.Sleep(100 * time.Millisecond)
		h := serverHeapInUse()
		if h <= held && i > 5 {
			break
		}
		held = max(held, h)
	}
	return held
}

func serverHeapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestTLSHandshakeMemoryBounded: what a peer can make the server hold
// for a connection is bounded (docs/SERVER.md, Limits: 64 KiB per
// connection of read buffers free, everything beyond it from MemoryBudget;
// "the worst case with the defaults is about MemoryBudget ... plus 64 KiB ×
// 1000 connections of read buffers"). A TLS handshake escapes both: after a
// real ClientHello, a peer announces a Certificate handshake message of
// 256 KiB (crypto/tls accepts that size for certificates, whether or not
// the server asked for one) and sends all of it but the last byte. The
// server's crypto/tls buffers all of it, uncharged, for FrameTimeout (30 s),
// on each of MaxConnections (1000) connections: about 1000 × 0.5 MiB with
// the defaults, none of it in MemoryBudget or limits.memory_held_bytes.
// What a peer sends before its handshake completes is capped at 32 KiB now.
func TestTLSHandshakeMemoryBounded(t *testing.T) {
	p := newTestPKI(t)
	s, _ := startServer(t, rpc.Config{TLSConfig: p.serverConfig(false)}, func(s *rpc.Server) { registerProbe(s) })
	honestCfg := p.clientConfig(nil)
	honest := mustDialTLS(t, s, honestCfg)
	bystanderCheck(t, honest, "before")

	ccfg := p.clientConfig(nil)
	ccfg.ServerName = "localhost"
	ccfg.MaxVersion = tls.VersionTLS12 // a plaintext Certificate message: no crypto needed
	hello := captureClientHello(t, ccfg)

	// The Certificate message: type 11, length 262143, then its body in
	// 16 KiB records, less the last byte.
	msgLen := 256<<10 - 1
	msg := make([]byte, 4+msgLen-1)
	msg[0] = 11
	msg[1], msg[2], msg[3] = byte(msgLen>>16), byte(msgLen>>8), byte(msgLen)
	var flight []byte
	for rest := msg; len(rest) > 0; {
		n := min(len(rest), 16<<10)
		flight = append(flight, 22, 3, 3, byte(n>>8), byte(n))
		flight = append(flight, rest[:n]...)
		rest = rest[n:]
	}

	const peers = 64
	before := serverHeapInUse()
	var conns []net.Conn
	for range peers {
		nc, err := net.DialTimeout("tcp", s.Addr().String(), ioTimeout)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { nc.Close() })
		nc.SetWriteDeadline(time.Now().Add(ioTimeout))
		if _, err := nc.Write(hello); err != nil {
			t.Fatalf("write: %v", err)
		}
		// Read the server's flight (ServerHello … ServerHelloDone) so that
		// nothing is held up on our side, then send the certificate.
		nc.SetReadDeadline(time.Now().Add(ioTimeout))
		var buf [16 << 10]byte
		if _, err := nc.Read(buf[:]); err != nil {
			t.Fatalf("reading the server's flight: %v", err)
		}
		nc.Write(flight) // the server may close before it has read it all
		conns = append(conns, nc)
	}
	perConn := (int64(settledHeap()) - int64(before)) / peers
	m := s.GetMetrics()
	t.Logf("%d KiB of heap per handshaking connection; limits.memory_held_bytes = %d", perConn>>10, m.Limits.MemoryHeldBytes)
	bystanderCheck(t, honest, "during")
	// The handshake is capped at 32 KiB: the server closes each attacker.
	for i, nc := range conns {
		nc.SetReadDeadline(time.Now().Add(ioTimeout))
		if _, err := io.Copy(io.Discard, nc); err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("attacker %d: its connection is still open after a 256 KiB handshake message", i)
		}
	}
	if perConn > 128<<10 { // twice the documented allowance, for slack
		t.Errorf("each TLS connection in its handshake holds %d KiB, outside MemoryBudget (memory_held_bytes %d); "+
			"the documented bound is 64 KiB per connection of read buffers, the rest charged to MemoryBudget", perConn>>10, m.Limits.MemoryHeldBytes)
	}
}
