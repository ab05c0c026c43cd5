package rpc

import (
	"math"
	"testing"
	"time"
)

// TestRetryBackoffSaturates: the delay before a retry is RetryDelay doubled
// each attempt with ±20% jitter, and never wraps negative (which would
// retry at once) however large RetryDelay is.
func TestRetryBackoffSaturates(t *testing.T) {
	for _, delay := range []time.Duration{time.Millisecond, time.Hour, math.MaxInt64 / 4, math.MaxInt64 / 2, math.MaxInt64} {
		d := &dispatcher{retryDelay: delay}
		for attempt := range 70 {
			for range 200 { // the jitter is random: many draws
				if got := d.backoff(attempt); got < delay*4/5 {
					t.Fatalf("RetryDelay %v, attempt %d: backoff %v, below the delay less its jitter", delay, attempt, got)
				}
			}
		}
	}
}
