package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestIntrospectMetadataIsSent: list and health accept --metadata key=value
// (their -h lists it, as send's does); the request must carry it, as send's
// does, not drop it silently.
func TestIntrospectMetadataIsSent(t *testing.T) {
	got := make(chan map[string]string, 2)
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1}, slog.New(slog.DiscardHandler))
	srv.Handle(rpc.HealthPattern, rpc.Typed(func(ctx context.Context, _ json.RawMessage) (map[string]string, error) {
		req, _ := rpc.RequestFromContext(ctx)
		got <- req.Metadata()
		return map[string]string{"status": "serving"}, nil
	}))
	srv.Handle(rpc.ListPattern, rpc.Typed(func(ctx context.Context, _ json.RawMessage) ([]rpc.PatternInfo, error) {
		req, _ := rpc.RequestFromContext(ctx)
		got <- req.Metadata()
		return []rpc.PatternInfo{}, nil
	}))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	addr := srv.Addr().String()
	for _, cmd := range []string{"health", "list"} {
		r := runCLI(t, invocation{args: []string{cmd, "--addr", addr, "--metadata", "tenant=a"}})
		if r.code != exitOK {
			t.Fatalf("%s: exit %d, stderr %q", cmd, r.code, r.stderr)
		}
		if md := <-got; md["tenant"] != "a" {
			t.Errorf("%s --metadata tenant=a: the server got metadata %v, want tenant=a", cmd, md)
		}
	}
}
