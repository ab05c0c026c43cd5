// Command quickstart is the README's Quick Start program, verbatim: its test
// builds and runs it, so the original API stays compatible.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

func main() {
	ctx := context.Background()

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

	// Start server
	go func() {
		if err := server.Start(); err != nil {
			fmt.Printf("Server error: %v\n", err)
		}
	}()

	// Wait for interrupt
	<-ctx.Done()
	server.Shutdown(context.Background())
}
