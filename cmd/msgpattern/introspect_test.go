package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestListHealth: list and health against a server with introspection (the
// test server turns it on), and against one without (exit 1, said so).
func TestListHealth(t *testing.T) {
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", Introspection: true}, slog.New(slog.DiscardHandler))
	srv.Handle("sum", rpc.Typed(func(_ context.Context, xs []float64) (float64, error) { return 0, nil }))
	srv.HandleEvent("audit", rpc.Event(func(context.Context, json.RawMessage) error { return nil }))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	addr := srv.Addr().String()

	want{stdout: "PATTERN  KIND\naudit    event\nsum      request\n"}.check(t, runCLI(t, invocation{args: []string{"list", "--addr", addr}}))
	r := runCLI(t, invocation{args: []string{"ls", "--addr", addr, "--json", "--schema"}})
	var got []rpc.PatternInfo
	var input bytes.Buffer
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &got) != nil || len(got) != 2 || json.Compact(&input, got[1].Input) != nil ||
		input.String() != `{"items":{"type":"number"},"type":"array"}` {
		t.Errorf("ls --json --schema: %d %s %s", r.code, r.stdout, r.stderr)
	}
	want{stdout: "serving\n"}.check(t, runCLI(t, invocation{args: []string{"health", "--addr", addr}}))

	plain := startServer(t) // no introspection
	want{code: 1, stderrRE: `offers no introspection`}.check(t, runCLI(t, invocation{args: []string{"list", "--addr", plain.addr}}))
	want{code: 2, stderrRE: `want no arguments`}.check(t, runCLI(t, invocation{args: []string{"health", "--addr", addr, "extra"}}))
}
