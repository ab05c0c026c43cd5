package rpc_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestDocsLoneReplyPastMaxQueuedReplyBytes: docs/SERVER.md says of
// MaxQueuedReplyBytes "past it the peer is dropped" and that a peer is
// dropped "when more than `MaxQueuedReplyBytes` (64 MiB) wait". A reply
// larger than the cap with nothing queued before it goes out, and its
// peer, which reads, is kept (the field's godoc says so): every statement
// of that rule in docs/SERVER.md must name the exception.
func TestDocsLoneReplyPastMaxQueuedReplyBytes(t *testing.T) {
	s, _ := startServer(t, rpc.Config{MaxQueuedReplyBytes: 1 << 10}, func(s *rpc.Server) {
		s.Handle("big", rpc.Typed(func(ctx context.Context, n int) (string, error) { return strings.Repeat("z", n), nil }))
	})
	c := dial(t, s)
	for id := range 3 {
		c.write(reqFrame(`"big"`, `8000`, string(rune('1'+id))))
		if f := c.readFrame(); len(f) < 8000 {
			t.Fatalf("reply %d: %q", id, clip(f))
		}
	}
	if n := s.GetMetrics().Limits.SlowConsumers; n != 0 {
		t.Fatalf("slow_consumer = %d: a lone reply 8× MaxQueuedReplyBytes dropped its reading peer", n)
	}
	doc, err := os.ReadFile("../docs/SERVER.md")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.Contains(line, "past it the peer is dropped") && !strings.Contains(line, "when more than `MaxQueuedReplyBytes`") &&
			!strings.Contains(line, "`MaxQueuedReplyBytes` (64 MiB) per connection") {
			continue
		}
		found++
		if !strings.Contains(line, "larger than it still goes out") {
			t.Errorf("docs/SERVER.md says a peer with more than MaxQueuedReplyBytes queued is dropped, without the exception of a lone reply larger than the cap (sent, peer kept):\n%s", clip(line))
		}
	}
	if found != 3 {
		t.Fatalf("found %d statements of the MaxQueuedReplyBytes rule in docs/SERVER.md, want 3", found)
	}
}
