package rpc

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"unsafe"
)

// TestIdleTailOfAChargedChunkIsNotCached: a reader going idle gives its
// chunk's unused tail to the server's chunkCache. A tail of at most 64 KiB
// looks free (recvAllowance), but it keeps its whole chunk — up to maxChunk,
// 1 MiB — in memory, uncharged, for as long as the cache or whatever
// handler's request is later read into it holds it. docs/SERVER.md bounds
// what handlers keep of uncharged chunks at 64 KiB each ((1000 + 4096) ×
// 64 KiB ≈ 320 MiB); a tail of a 1 MiB chunk makes it 1 MiB each.
func TestIdleTailOfAChargedChunkIsNotCached(t *testing.T) {
	s := NewServer(&Config{Addr: "127.0.0.1:0", MemoryBudget: 64 << 20}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := newConn(s, a)
	// The state after a burst that grew the chunk to maxChunk (charged)
	// and stopped 48 KiB before its end: every frame served, nothing buffered.
	big := make([]byte, maxChunk)
	c.rbuf, c.r, c.w = big, maxChunk-48<<10, maxChunk-48<<10
	c.held = maxChunk - recvAllowance
	s.budget.charge(int64(c.held))

	c.releaseIdleChunk()

	if u := s.budget.used.Load(); u != 0 {
		t.Fatalf("budget used %d after the chunk was released", u)
	}
	tail := s.spare.get(minChunk/2, minChunk)
	start, end := uintptr(unsafe.Pointer(&big[0])), uintptr(unsafe.Pointer(&big[len(big)-1]))
	if p := uintptr(unsafe.Pointer(&tail[0])); p >= start && p <= end {
		t.Fatalf("the chunk cache holds a %d-byte tail of a %d-byte chunk: the whole chunk stays in memory, uncharged", len(tail), len(big))
	}
}
