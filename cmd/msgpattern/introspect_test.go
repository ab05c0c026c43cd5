package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
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

// TestListHealthTimeout: a server that does not answer within --timeout
// is "no reply", exit 2, as for send; it was reported as "interrupted",
// exit 130, as if by a signal.
func TestListHealthTimeout(t *testing.T) {
	addr, _ := silentServer(t)
	for _, cmd := range []string{"list", "health"} {
		r := runCLI(t, invocation{args: []string{cmd, "--addr", addr, "--timeout", "300ms"}})
		if r.code != exitLocal || strings.Contains(r.stderr, "interrupted") || !strings.Contains(r.stderr, "--timeout") {
			t.Errorf("%s --timeout 300ms against a silent server: exit %d, stderr %q; want exit %d, no reply within --timeout",
				cmd, r.code, r.stderr, exitLocal)
		}
	}
}

// TestListHealthVerbose: -v prints the round-trip time on stderr, as its
// help says, and as send -v does.
func TestListHealthVerbose(t *testing.T) {
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", Introspection: true}, slog.New(slog.DiscardHandler))
	srv.Handle("sum", rpc.Typed(func(_ context.Context, xs []float64) (float64, error) { return 0, nil }))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	rtt := regexp.MustCompile(`^[^\n]* in [0-9.]+(µs|ms|s)\n$`)
	for _, tc := range []struct {
		cmd, stdout string
	}{
		{"list", "PATTERN  KIND\nsum      request\n"},
		{"health", "serving\n"},
	} {
		if r := runCLI(t, invocation{args: []string{tc.cmd, "-h"}}); !strings.Contains(r.stdout, "print the round-trip time on stderr") {
			t.Errorf("%s -h does not document -v:\n%s", tc.cmd, r.stdout)
		}
		r := runCLI(t, invocation{args: []string{tc.cmd, "-v", "--addr", srv.Addr().String()}})
		if r.code != 0 || r.stdout != tc.stdout || !rtt.MatchString(r.stderr) {
			t.Errorf("%s -v: exit %d, stdout %q, stderr %q; want exit 0, stdout %q and the round-trip time on stderr",
				tc.cmd, r.code, r.stdout, r.stderr, tc.stdout)
		}
	}
}
