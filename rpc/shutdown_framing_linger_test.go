//go:build linux

package rpc_test

import (
	"bufio"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestShutdownKeepsAFramingLinger: a connection that lost its framing
// lingers (lingerTimeout/10) so that the replies it owes are not destroyed
// by a reset. A Shutdown that begins meanwhile must not cut that linger
// short (docs/SERVER.md: "Closing is a lingering close ... so a reset never
// destroys replies in flight"), as it does not cut an eviction's or a
// first Shutdown's linger.
func TestShutdownKeepsAFramingLinger(t *testing.T) {
	const n = 60
	blob := strings.Repeat("z", 4000)
	srv, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("blob", rpc.Func(func(json.RawMessage) (any, error) { return blob, nil }))
	})
	nc := rawDial(t, srv, 4<<10)
	br := bufio.NewReaderSize(nc, 4<<10)
	var reqs strings.Builder
	for i := range n {
		reqs.WriteString(reqFrame(`"blob"`, `null`, strconv.Itoa(i)))
	}
	reqs.WriteString("x#garbage") // framing lost: the server answers what it read, then closes
	if _, err := nc.Write([]byte(reqs.String())); err != nil {
		t.Fatal(err)
	}
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
