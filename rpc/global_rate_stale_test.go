package rpc_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestGlobalRateLimitHoldsAcrossConnections: GlobalRateLimitPerSec is "the same [token
// bucket], shared by all connections" (docs/SERVER.md): over any period,
// all connections together get at most burst + rate × period requests
// through. A connection working through requests it read earlier (they
// carry the time of that read) must not refill the shared bucket for the
// others.
func TestGlobalRateLimitHoldsAcrossConnections(t *testing.T) {
	const rate, burst = 5, 20
	s, _ := startServer(t, rpc.Config{GlobalRateLimitPerSec: rate, GlobalRateLimitBurst: burst, MaxInFlight: 1}, func(s *rpc.Server) {
		s.Handle("ping", rpc.Func(func(json.RawMessage) (any, error) { return "pong", nil }))
		s.Handle("work", rpc.Func(func(d json.RawMessage) (any, error) {
			ms, _ := strconv.Atoi(string(d))
			time.Sleep(time.Duration(ms) * time.Millisecond)
			return "done", nil
		}))
	})
	start := time.Now()
	// Connection A: requests pipelined in one write, served one at a time
	// (MaxInFlight 1) over the next seconds.
	a := dial(t, s)
	var b strings.Builder
	b.WriteString(reqFrame(`"work"`, `1000`, `0`))
	for i := 1; i <= 150; i++ {
		b.WriteString(reqFrame(`"work"`, `20`, strconv.Itoa(i)))
	}
	a.write(b.String())

	// Connection B: a request every 100 ms.
	c, err := rpc.NewClient(s.Addr().String(), rpc.WithClientLogger(discardLogger()), rpc.WithHeartbeat(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	okB := 0
	until := start.Add(2500 * time.Millisecond)
	for time.Now().Before(until) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := c.Send(ctx, "ping", nil, nil)
		cancel()
		if err == nil {
			okB++
		}
		time.Sleep(100 * time.Millisecond)
	}
	okA := 0
	for range 151 {
		f, err := a.readFrameErr(5 * time.Second)
		if err != nil {
			break
		}
		if strings.Contains(f, `"done"`) {
			okA++
		}
	}
	elapsed := time.Since(start)
	// Every request was read between start and now: a token bucket lets
	// through at most burst + rate × elapsed of them (and a few for slack).
	allowed := burst + rate*elapsed.Seconds() + 3
	if total := okA + okB; float64(total) > allowed {
		t.Errorf("%d requests got through the global limit of %d/s (burst %d) in %v (A %d, B %d); at most %.0f allowed",
			total, rate, burst, elapsed.Round(time.Millisecond), okA, okB, allowed)
	}
}
