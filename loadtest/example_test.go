package loadtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"github.com/msgpattern/msgpattern/loadtest"
	"github.com/msgpattern/msgpattern/rpc"
)

// Load-test a pattern: 4 connections, 16 requests in flight on each.
func ExampleRun() {
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv.Handle("sum", rpc.Func(func(json.RawMessage) (any, error) { return 3, nil }))
	if err := srv.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())

	res, err := loadtest.Run(context.Background(), loadtest.Config{
		Addr:        srv.Addr().String(),
		Connections: 4,
		InFlight:    16,
		Requests:    10000,
		Pattern:     []byte(`"sum"`),
		Data:        []byte(`[1,2]`),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("requests:", res.Requests, "errors:", res.Errors, "p50 <= p99:", res.Latency.P50 <= res.Latency.P99)
	// Output: requests: 10000 errors: 0 p50 <= p99: true
}
