package natsrpc

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestPeerKeysBounded: the rate limiter remembers up to maxPeers senders,
// keyed by their reply subjects, which a sender chooses (up to the NATS
// server's 4 KiB control line). A key kept as a substring of the subject
// kept the whole subject alive, and a long key was kept whole: 4096 keys
// of 4 KiB, 16 MiB charged nowhere. Keys are now copies, and a long one is
// kept as its hash; the same sender still maps to the same peer.
func TestPeerKeysBounded(t *testing.T) {
	ns := runNATS(t)
	srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: 100, RetryAttempts: -1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s, err := Connect(srv, ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	inbox := "_INBOX." + strings.Repeat("n", 4000) // key: a 19-byte prefix
	long := strings.Repeat("r", 4000) + ".x"       // key: 4000 bytes
	for _, reply := range []string{inbox, long} {
		p := s.peerOf(reply)
		if again := s.peerOf(reply); again != p {
			t.Errorf("reply subject of %d bytes: a second message got another peer", len(reply))
		}
		if other := s.peerOf(reply[:len(reply)-1] + "!.y"); other == p && reply == long {
			t.Errorf("two different long senders share a peer")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.peers {
		if len(k) > maxPeerKey {
			t.Errorf("a peer key of %d bytes is remembered (bound %d)", len(k), maxPeerKey)
		}
		start := uintptr(unsafe.Pointer(unsafe.StringData(inbox)))
		if at := uintptr(unsafe.Pointer(unsafe.StringData(k))); at >= start && at < start+uintptr(len(inbox)) {
			t.Errorf("the peer key %q points into its message's reply subject, keeping its %d bytes alive", k, len(inbox))
		}
	}
}
