package rpc

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestBudgetKeepsWrittenBytesWhileTheirBufferIsHeld: a reply's bytes used
// to leave the memory budget as the socket took them, while the buffer they
// were written from stayed in memory until all of it was written: peers
// that read most of a long reply and stopped left the server holding 769
// MiB while the budget counted 53–61 MiB, so nothing was dropped for it.
// The budget gets the bytes back with the buffer, when its write ends.
func TestBudgetKeepsWrittenBytesWhileTheirBufferIsHeld(t *testing.T) {
	const size = 1 << 20
	server, peer := net.Pipe()
	defer server.Close()
	defer peer.Close()
	b := newMemoryBudget(64 << 20)
	w := &batchWriter{nc: server, budget: b, timeout: 10 * time.Second}
	if _, _, _, err := w.appendFrame(func(dst []byte) ([]byte, error) { return append(dst, make([]byte, size)...), nil }); err != nil {
		t.Fatal(err)
	}
	flushed := make(chan error, 1)
	go func() { flushed <- w.flush() }()

	// The peer takes a little over half, then stops: the write is in
	// progress, its buffer whole in memory.
	if _, err := io.CopyN(io.Discard, peer, 600<<10); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); w.queuedBytes() > size-512<<10; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("queued %d", w.queuedBytes())
		}
	}
	if used := b.used.Load(); used != size {
		t.Errorf("budget charged %d bytes for a %d-byte buffer still being written (%d of it unwritten); want all of it", used, size, w.queuedBytes())
	}
	if _, err := io.Copy(io.Discard, io.LimitReader(peer, size-600<<10)); err != nil {
		t.Fatal(err)
	}
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if used := b.used.Load(); used != 0 {
		t.Errorf("budget charged %d bytes after the write ended, want 0", used)
	}
}
