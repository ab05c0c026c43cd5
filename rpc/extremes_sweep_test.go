package rpc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestConfigExtremesServeHonestClient: every Config field at 0, -1, 1 and
// its largest value still serves an honest client (or refuses it as
// documented), without panicking or hanging.
func TestConfigExtremesServeHonestClient(t *testing.T) {
	durs, ints := extremeDurations, extremeInts
	type tc struct {
		name string
		cfg  rpc.Config
	}
	var cases []tc
	for _, d := range durs {
		for name, set := range map[string]func(*rpc.Config){
			"RetryDelay":        func(c *rpc.Config) { c.RetryDelay = d },
			"HeartbeatInterval": func(c *rpc.Config) { c.HeartbeatInterval = d },
			"EvictIdleAfter":    func(c *rpc.Config) { c.EvictIdleAfter = d },
			"FrameTimeout":      func(c *rpc.Config) { c.FrameTimeout = d },
			"WriteTimeout":      func(c *rpc.Config) { c.WriteTimeout = d },
			"HeartbeatTimeout":  func(c *rpc.Config) { c.HeartbeatTimeout = d },
		} {
			var c rpc.Config
			set(&c)
			cases = append(cases, tc{fmt.Sprintf("%s=%d", name, d), c})
		}
	}
	for _, n := range ints {
		for name, set := range map[string]func(*rpc.Config){
			"MaxConnections":        func(c *rpc.Config) { c.MaxConnections = n },
			"RateLimitPerSec":       func(c *rpc.Config) { c.RateLimitPerSec = n },
			"RateLimitBurst":        func(c *rpc.Config) { c.RateLimitPerSec, c.RateLimitBurst = 100, n },
			"RetryAttempts":         func(c *rpc.Config) { c.RetryAttempts = n },
			"MaxInFlight":           func(c *rpc.Config) { c.MaxInFlight = n },
			"MaxDepth":              func(c *rpc.Config) { c.MaxDepth = n },
			"GlobalRateLimitPerSec": func(c *rpc.Config) { c.GlobalRateLimitPerSec = n },
			"GlobalRateLimitBurst":  func(c *rpc.Config) { c.GlobalRateLimitBurst = n },
			"GlobalBoth":            func(c *rpc.Config) { c.GlobalRateLimitPerSec, c.GlobalRateLimitBurst = n, n },
			"MaxQueuedReplyBytes":   func(c *rpc.Config) { c.MaxQueuedReplyBytes = n },
			"MemoryBudget":          func(c *rpc.Config) { c.MemoryBudget = int64(n) },
			"MaxHandlers":           func(c *rpc.Config) { c.MaxHandlers = n },
			"MinFrameRate":          func(c *rpc.Config) { c.MinFrameRate = n },
			"MaxFrameSize":          func(c *rpc.Config) { c.MaxFrameSize = n },
		} {
			var c rpc.Config
			set(&c)
			cases = append(cases, tc{fmt.Sprintf("%s=%d", name, n), c})
		}
	}
	// Documented refusals of an honest client's three back-to-back calls
	// with {"a":1}: a burst of one, a server-wide rate of 1/s (burst 2), a
	// frame over 1 unit, nesting past depth 1.
	refused := map[string]bool{
		"RateLimitBurst=1": true, "RateLimitBurst=-1": true, "GlobalRateLimitPerSec=1": true,
		"GlobalBoth=1": true, "MaxFrameSize=1": true, "MaxDepth=1": true,
		// A write deadline a nanosecond away may pass before the write is
		// tried (Config.WriteTimeout: under a few milliseconds is not
		// meaningful).
		"WriteTimeout=1": true,
	}
	for _, tt := range cases {
		if refused[tt.name] {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			s, _ := startServer(t, tt.cfg, func(s *rpc.Server) {
				rpc.NewServerWrapper(s).MessagePattern("ping", func(json.RawMessage) (interface{}, error) { return "pong", nil })
			})
			c, err := rpc.NewClient(s.Addr().String(), rpc.WithClientLogger(discardLogger()))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			pingsAnswered(t, c, map[string]int{"a": 1}, 0)
		})
	}
}

// The values every extreme-value sweep tries.
var (
	extremeDurations = []time.Duration{0, -1, 1, time.Duration(math.MaxInt64)}
	extremeInts      = []int{0, -1, 1, math.MaxInt}
)

// pingsAnswered sends "ping" with data three times, pause apart, and
// wants "pong" each time.
func pingsAnswered(t *testing.T, c *rpc.Client, data any, pause time.Duration) {
	t.Helper()
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		var out string
		err := c.Send(ctx, "ping", data, &out)
		cancel()
		if err != nil || out != "pong" {
			t.Errorf("call %d: %q, %v", i, out, err)
			return
		}
		time.Sleep(pause)
	}
}

// TestClientOptionExtremes: every client option at 0, -1, 1 and its
// largest value still serves calls and a stream, without panic or hang.
func TestClientOptionExtremes(t *testing.T) {
	durs, ints := extremeDurations, extremeInts
	type tc struct {
		name string
		opt  rpc.ClientOption
	}
	var cases []tc
	for _, d := range durs {
		cases = append(cases,
			tc{fmt.Sprint("DialTimeout=", d), rpc.WithDialTimeout(d)},
			tc{fmt.Sprint("WriteTimeout=", d), rpc.WithWriteTimeout(d)},
			tc{fmt.Sprint("HeartbeatInterval=", d), rpc.WithHeartbeat(d, 0)},
			tc{fmt.Sprint("HeartbeatTimeout=", d), rpc.WithHeartbeat(time.Millisecond, d)},
			tc{fmt.Sprint("HeartbeatBoth=", d), rpc.WithHeartbeat(d, d)},
			tc{fmt.Sprint("BackoffMin=", d), rpc.WithReconnectBackoff(d, time.Second)},
			tc{fmt.Sprint("BackoffMax=", d), rpc.WithReconnectBackoff(time.Millisecond, d)},
		)
	}
	for _, n := range ints {
		cases = append(cases,
			tc{fmt.Sprint("MaxFrameSize=", n), rpc.WithMaxFrameSize(n)},
			tc{fmt.Sprint("MaxQueuedBytes=", n), rpc.WithMaxQueuedBytes(n)},
			tc{fmt.Sprint("MaxStreamBuffer=", n), rpc.WithMaxStreamBuffer(n)},
		)
		if n != math.MaxInt {
			cases = append(cases, tc{fmt.Sprint("Pool=", n), rpc.WithPool(n, true)})
		}
	}
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		rpc.NewServerWrapper(s).MessagePattern("ping", func(json.RawMessage) (interface{}, error) { return "pong", nil })
	})
	for _, tt := range cases {
		switch tt.name {
		case "DialTimeout=1ns", "MaxFrameSize=1", // a dial bound of 1ns; a reply over 1 unit
			"WriteTimeout=1ns",                          // a write deadline that may pass before the write is tried
			"HeartbeatTimeout=1ns", "HeartbeatBoth=1ns": // a pong due within 1ns: the connection is rightly declared dead
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			c, err := rpc.NewClient(s.Addr().String(), rpc.WithClientLogger(discardLogger()), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			pingsAnswered(t, c, nil, 20*time.Millisecond)
			var n int
			for v, err := range c.Stream(context.Background(), "ping", nil) {
				_ = v
				if err != nil {
					t.Errorf("stream: %v", err)
				}
				n++
			}
		})
	}
}
