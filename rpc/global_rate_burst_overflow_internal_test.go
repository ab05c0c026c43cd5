package rpc

import (
	"math"
	"testing"
)

// TestGlobalRateLimitBurstDefaultSaturates: the default server-wide burst,
// twice the rate, saturates at math.MaxInt instead of wrapping to a burst
// of 1. On 32-bit platforms a rate of 1<<30 (math.MaxInt/2+1 there)
// already wrapped: a server allowed a billion messages a second let at
// most two through within a nanosecond (or one tick of a coarse clock),
// where the documented burst, twice the rate, allows two billion.
func TestGlobalRateLimitBurstDefaultSaturates(t *testing.T) {
	for _, tt := range []struct {
		rate, burst, want int
	}{
		{rate: 1, want: 2},
		{rate: 100, want: 200},
		{rate: 100, burst: 7, want: 7},
		{rate: math.MaxInt / 2, want: math.MaxInt - 1},
		{rate: math.MaxInt/2 + 1, want: math.MaxInt},
		{rate: math.MaxInt, want: math.MaxInt},
		{rate: math.MaxInt, burst: 5, want: 5},
	} {
		c := Config{GlobalRateLimitPerSec: tt.rate, GlobalRateLimitBurst: tt.burst}
		if got := c.globalRateLimitBurst(); got != tt.want {
			t.Errorf("rate %d, burst %d: effective burst %d, want %d", tt.rate, tt.burst, got, tt.want)
		}
	}
	s := NewServer(&Config{GlobalRateLimitPerSec: math.MaxInt}, nil)
	if got := s.limiter.Burst(); got != math.MaxInt {
		t.Errorf("server's limiter burst at rate MaxInt: %d, want %d", got, math.MaxInt)
	}
}
