package rpc_test

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestCloseStartsNoBufferedFrame: once Close has returned, no handler
// starts. A reader found its socket closed only when it read again, and
// went on through the frames its chunk still held first (up to 1 MiB of
// them): tens of thousands of handlers ran after Close, with replies no
// one could get (seen as the allocations of a later test).
func TestCloseStartsNoBufferedFrame(t *testing.T) {
	var started atomic.Int64
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("count", rpc.Func(func(json.RawMessage) (any, error) { started.Add(1); return nil, nil }))
	})
	nc := rawDial(t, s, 0)
	defer nc.Close()
	burst := strings.Repeat(reqFrame(`"count"`, `null`, `1`), 100_000) // 3.6 MB
	go nc.Write([]byte(burst))
	for deadline := time.Now().Add(20 * time.Second); started.Load() < 1000; time.Sleep(100 * time.Microsecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests served in 20 s", started.Load())
		}
	}
	s.Close()
	atClose := started.Load()
	time.Sleep(300 * time.Millisecond)
	// The reader may be inside one handler as Close returns (and one it
	// handed off, in another): a few more, not a chunk's worth.
	if after := started.Load() - atClose; after > 2 {
		t.Errorf("%d handlers started after Close returned (%d before); want at most the ones running", after, atClose)
	}
}
