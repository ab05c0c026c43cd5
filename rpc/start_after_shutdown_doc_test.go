package rpc_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestStartAfterShutdownIsErrServerClosed: docs/SERVER.md ("Start after
// Shutdown returns rpc.ErrServerClosed") and ErrServerClosed's own doc
// promise that error whatever the address: a shut-down server must not
// listen at all — not even bind its address for a moment, which would take
// the port from the server replacing it, nor report the replacement's bind
// as its own failure.
func TestStartAfterShutdownIsErrServerClosed(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0") // the replacement server
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, stop := range []string{"Shutdown", "Close"} {
		s := rpc.NewServer(&rpc.Config{Addr: busy.Addr().String()}, discardLogger())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if stop == "Shutdown" {
			if err := s.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
		} else {
			s.Close()
		}
		cancel()
		if err := s.Start(); !errors.Is(err, rpc.ErrServerClosed) {
			t.Errorf("Start after %s: %v, want rpc.ErrServerClosed", stop, err)
		}
	}
	// Nor does it bind a free address (and leave it bound while it decides).
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	s := rpc.NewServer(&rpc.Config{Addr: addr}, discardLogger())
	s.Close()
	if err := s.Start(); !errors.Is(err, rpc.ErrServerClosed) {
		t.Errorf("Start after Close on a free address: %v, want rpc.ErrServerClosed", err)
	}
}
