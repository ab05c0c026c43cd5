package rpc_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestNegativeHeartbeatTimeoutDropsNoPeer: a negative HeartbeatTimeout
// closes no peer for its silence, as negative durations elsewhere in Config
// mean "off". It used to set the read deadline in the past, cutting every
// msgpattern client off after its first ping.
func TestNegativeHeartbeatTimeoutDropsNoPeer(t *testing.T) {
	s, _ := startServer(t, rpc.Config{HeartbeatTimeout: -time.Second}, func(s *rpc.Server) {
		rpc.NewServerWrapper(s).MessagePattern("ping", func(json.RawMessage) (interface{}, error) { return "pong", nil })
	})
	c := dial(t, s)
	c.call(`"msgpattern:heartbeat"`, `null`, `1`, valueReply(`"pong"`, `1`))
	time.Sleep(200 * time.Millisecond) // a peer idle for a moment after its ping
	c.write(reqFrame(`"ping"`, `null`, `2`))
	f, err := c.readFrameErr(ioTimeout)
	if err != nil {
		t.Fatalf("with HeartbeatTimeout -1s the server dropped a heartbeat peer idle for 200 ms (heartbeats.failed = %d): %v",
			s.GetMetrics().Heartbeats.Failed, err)
	}
	if want := valueReply(`"pong"`, `2`); f != want {
		t.Fatalf("got %q, want %q", f, want)
	}
}

// TestRateLimitBurstDefaultsToTwiceTheRate: the per-connection burst left at
// zero is twice RateLimitPerSec, as documented (and as the server-wide
// one): it used to stay 200 whatever the rate, so at 1000/s, 300 of 500
// back-to-back requests were refused.
func TestRateLimitBurstDefaultsToTwiceTheRate(t *testing.T) {
	s, _ := startServer(t, rpc.Config{RateLimitPerSec: 1000}, func(s *rpc.Server) {
		rpc.NewServerWrapper(s).MessagePattern("ping", func(json.RawMessage) (interface{}, error) { return "pong", nil })
	})
	const n = 500
	c := dial(t, s)
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(reqFrame(`"ping"`, `null`, strconv.Itoa(i)))
	}
	c.write(b.String())
	limited := 0
	for i := 0; i < n; i++ {
		if strings.Contains(c.readFrame(), "Rate limit exceeded") {
			limited++
		}
	}
	if limited > 0 {
		t.Errorf("RateLimitPerSec 1000 with the burst left to its default: %d of %d back-to-back requests refused (Config().RateLimitBurst = %d; documented: twice the rate, %d)",
			limited, n, s.Config().RateLimitBurst, 2*1000)
	}
}

// TestRateLimitBurstDefaults: a burst left at zero is twice the rate, and at
// least the original default of 200, so code written against the original
// API that sets a low rate alone keeps its burst (Config{RateLimitPerSec:
// 10} would otherwise refuse 130 of 150 back-to-back requests).
func TestRateLimitBurstDefaults(t *testing.T) {
	tests := []struct{ rate, burst, want int }{
		{0, 0, 200},     // the defaults: 100 and 200
		{10, 0, 200},    // as before
		{1000, 0, 2000}, // twice the rate
		{10, 5, 5},      // set: kept
		{-1, 0, 200},    // off: the burst does not matter
	}
	for _, tt := range tests {
		s := rpc.NewServer(&rpc.Config{RateLimitPerSec: tt.rate, RateLimitBurst: tt.burst}, discardLogger())
		if got := s.Config().RateLimitBurst; got != tt.want {
			t.Errorf("RateLimitPerSec %d, RateLimitBurst %d: burst %d, want %d", tt.rate, tt.burst, got, tt.want)
		}
	}
}

// TestNegativeRateLimitBurstIsOne: a negative RateLimitBurst is a burst of
// one, as documented: of three back-to-back requests at 1/s, the first is
// served and the other two refused (not all three, as a burst of zero
// would, nor none).
func TestNegativeRateLimitBurstIsOne(t *testing.T) {
	s, _ := startServer(t, rpc.Config{RateLimitPerSec: 1, RateLimitBurst: -1}, func(s *rpc.Server) {
		rpc.NewServerWrapper(s).MessagePattern("ping", func(json.RawMessage) (interface{}, error) { return "pong", nil })
	})
	c := dial(t, s)
	c.write(reqFrame(`"ping"`, `null`, `1`) + reqFrame(`"ping"`, `null`, `2`) + reqFrame(`"ping"`, `null`, `3`))
	var got []bool
	for range 3 {
		got = append(got, strings.Contains(c.readFrame(), "Rate limit exceeded"))
	}
	if want := []bool{false, true, true}; !slices.Equal(got, want) {
		t.Errorf("RateLimitBurst -1 at 1/s, three back-to-back requests refused: %v, want %v", got, want)
	}
}
