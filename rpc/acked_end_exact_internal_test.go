//go:build linux

package rpc

import (
	"io"
	"net"
	"testing"
)

// TestPeerAckedEndExact: peerAckedEnd is where the count of acknowledged
// bytes ends once every byte written is acknowledged. With nothing being
// written, it must be the same whenever it is read, however the peer's
// acknowledgements arrive meanwhile: the client's heartbeat takes a ping as
// acknowledged (and stops counting acknowledgements as the server's life)
// once peerAcked reaches it, so a value too low cuts that short.
func TestPeerAckedEndExact(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		defer s.Close()
		io.Copy(io.Discard, s) // a fast reader: acknowledgements arrive all along
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	base, ok := peerAckedEnd(nc)
	if !ok {
		t.Fatal("no TCP_INFO or SIOCOUTQ on a TCP connection")
	}
	chunk := make([]byte, 256<<10)
	var written uint64
	low, worst := 0, uint64(0)
	for range 400 {
		n, err := nc.Write(chunk)
		if err != nil {
			t.Fatal(err)
		}
		written += uint64(n)
		for range 200 {
			end, _ := peerAckedEnd(nc)
			if end < base+written {
				low++
				worst = max(worst, base+written-end)
			}
		}
	}
	if low > 0 {
		t.Errorf("peerAckedEnd fell short of the bytes written %d times in 80,000 looks, by up to %d bytes (an acknowledgement between its two system calls)", low, worst)
	}
}
