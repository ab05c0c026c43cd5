//go:build linux

package rpc_test

import (
	"testing"
	"time"
)

// TestShutdownKeepsAFramingLinger: a connection that lost its framing
// lingers (lingerTimeout/10) so that the replies it owes are not destroyed
// by a reset. A Shutdown that begins meanwhile must not cut that linger
// short (docs/SERVER.md: "Closing is a lingering close ... so a reset never
// destroys replies in flight"), as it does not cut an eviction's or a
// first Shutdown's linger.
func TestShutdownKeepsAFramingLinger(t *testing.T) {
	const n = 60
	// Framing lost after them: the server answers what it read, then closes.
	srv, nc, br := blobPeer(t, n, "x#garbage")
	got := readUntilLingering(t, srv, nc, br, n)
	shut := make(chan error, 1)
	shutdownBegun(srv, shut)
	// Give Shutdown the time to act (well within the linger: lingerTimeout/10, 500 ms).
	wait := time.Now().Add(50 * time.Millisecond)
	for srv.GetMetrics().Limits.ClosingConnections != 0 && time.Now().Before(wait) {
		time.Sleep(5 * time.Millisecond)
	}
	pipelineThenReadToEnd(t, nc, br, got, n, 20*time.Millisecond)
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}
