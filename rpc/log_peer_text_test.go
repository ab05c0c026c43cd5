package rpc_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/internal/lockedbuf"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestLogLineOfPeerPatternIsBounded: the debug line for an event nobody
// handles names its pattern, which the peer chose and which may be as long
// as a frame: it is cut, so that one event cannot write megabytes of log.
func TestLogLineOfPeerPatternIsBounded(t *testing.T) {
	var logs lockedbuf.Buffer
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, RetryAttempts: -1},
		slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	srv.Handle("ping", rpc.Func(func(json.RawMessage) (any, error) { return "pong", nil }))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	c := dial(t, srv)
	long := `"` + strings.Repeat("é", 100_000) + `"` // 200 KB of pattern, 200,002 bytes with its quotes
	c.write(reqFrame(long, "null", ""))
	c.write(reqFrame(`"ping"`, "null", "1"))
	if f := c.readFrame(); f != valueReply(`"pong"`, "1") {
		t.Fatalf("ping: %q", f)
	}
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "no handler for event") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no log line for the unhandled event; log:\n%.2000s", logs.String())
	}
	if len(line) > 1024 {
		t.Errorf("the log line is %d bytes long, want at most 1 KiB: %.300s…", len(line), line)
	}
	if !strings.Contains(line, "(200002 bytes)") {
		t.Errorf("the line does not say how long the pattern was: %.600s", line)
	}
}
