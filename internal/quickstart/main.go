// Command quickstart is the README's Quick Start program, verbatim: its test
// builds and runs it, so the original API stays compatible.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

func main() {
	// Run until Ctrl-C (SIGINT) or SIGTERM.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Server configuration
	config := &rpc.Config{
		Addr:              ":4061",
		Timeout:           30 * time.Second,
		MaxConnections:    1000,
		RateLimitPerSec:   100,
		RateLimitBurst:    200,
		RetryAttempts:     3,
		RetryDelay:        500 * time.Millisecond,
		HeartbeatInterval: 10 * time.Second,
		HeartbeatTimeout:  30 * time.Second,
	}

	// Create server
	server := rpc.NewServer(config, nil)
	wrapper := rpc.NewServerWrapper(server)

	// Register message patterns
	wrapper.MessagePattern("ping", func(data json.RawMessage) (interface{}, error) {
		return "pong", nil
	})

	wrapper.MessagePattern("echo", func(data json.RawMessage) (interface{}, error) {
		var payload map[string]interface{}
		json.Unmarshal(data, &payload)
		return payload, nil
	})

	// Start listens and serves in the background; it fails at once if the
	// address cannot be listened on (already in use, say).
	if err := server.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "Server error:", err)
		os.Exit(1)
	}

	// Wait for Ctrl-C, then let requests in flight finish (10 s at most).
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil {
		fmt.Fprintln(os.Stderr, "Shutdown:", err)
		os.Exit(1)
	}
}
