package rpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// WithDialTimeout(0): a zero timeout, as for net.Dialer.Timeout, means no
// limit on the lazy path; with WithEagerConnect the same option must not
// turn into an already-expired deadline that fails every NewClient.
func TestEagerConnectZeroDialTimeout(t *testing.T) {
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0"}, quietLogger)
	srv.Handle("ping", rpc.Func(func(json.RawMessage) (any, error) { return "pong", nil }))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())

	// Lazy: a zero dial timeout dials without a limit and the call works.
	lazy, err := rpc.NewClient(srv.Addr().String(), rpc.WithDialTimeout(0))
	if err != nil {
		t.Fatal(err)
	}
	defer lazy.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out string
	if err := lazy.Send(ctx, "ping", nil, &out); err != nil || out != "pong" {
		t.Fatalf("lazy client with WithDialTimeout(0): %q, %v", out, err)
	}

	// Eager: the same option, with a server listening.
	eager, err := rpc.NewClient(srv.Addr().String(), rpc.WithDialTimeout(0), rpc.WithEagerConnect())
	if err != nil {
		t.Fatalf("NewClient(WithDialTimeout(0), WithEagerConnect()) to a listening server: %v", err)
	}
	eager.Close()
}
