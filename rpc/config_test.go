package rpc_test

import (
	"net"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	want := rpc.Config{
		Addr: ":8080", Timeout: 30 * time.Second, MaxConnections: 1000,
		RateLimitPerSec: 100, RateLimitBurst: 200, RetryAttempts: 3,
		RetryDelay: 500 * time.Millisecond, HeartbeatInterval: 10 * time.Second,
		HeartbeatTimeout: 30 * time.Second,
		MaxFrameSize:     16 << 20, FrameTimeout: 30 * time.Second, MaxInFlight: 256, MaxDepth: 1000,
		WriteTimeout: 10 * time.Second, MaxQueuedReplyBytes: 64 << 20, MemoryBudget: 512 << 20,
		MaxHandlers: 4096, EvictIdleAfter: 5 * time.Second, MinFrameRate: 500,
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		want.MemoryBudget = rpc.DefaultConfig().MemoryBudget // derived; see TestConfigMemoryBudgetFromGOMEMLIMIT
	}
	if got := rpc.NewServer(nil, nil).Config(); got != want {
		t.Errorf("nil config:\n got  %+v\n want %+v", got, want)
	}
	if got := *rpc.DefaultConfig(); got != want {
		t.Errorf("DefaultConfig:\n got  %+v\n want %+v", got, want)
	}
	partial := rpc.Config{Addr: ":4061", RetryAttempts: 5}
	got := rpc.NewServer(&partial, nil).Config()
	want.Addr, want.RetryAttempts = ":4061", 5
	if got != want {
		t.Errorf("zero fields of a partial config must get defaults:\n got  %+v\n want %+v", got, want)
	}
	if partial.Timeout != 0 {
		t.Error("NewServer must not modify the caller's Config")
	}
}

// TestConfigMemoryBudgetFromGOMEMLIMIT: with a Go memory limit set, the
// default budget is half of it. Not parallel: the limit is process-wide.
func TestConfigMemoryBudgetFromGOMEMLIMIT(t *testing.T) {
	old := debug.SetMemoryLimit(3 << 30)
	defer debug.SetMemoryLimit(old)
	if got := rpc.DefaultConfig().MemoryBudget; got != 3<<30/2 {
		t.Errorf("MemoryBudget with GOMEMLIMIT=3GiB: %d, want %d", got, 3<<30/2)
	}
	if got := rpc.NewServer(&rpc.Config{MemoryBudget: 1 << 20}, nil).Config().MemoryBudget; got != 1<<20 {
		t.Errorf("an explicit MemoryBudget is kept: %d", got)
	}
}

func TestStartReturnsBindErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv := rpc.NewServer(&rpc.Config{Addr: ln.Addr().String()}, discardLogger())
	err = srv.Start()
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Start on a busy address: got %v, want an 'address already in use' error", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
