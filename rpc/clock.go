package rpc

import (
	"math"
	"time"
)

// epoch anchors the server's monotonic clock.
var epoch = time.Now()

// monotime returns monotonic nanoseconds since epoch. It reads one clock;
// time.Now reads two (wall and monotonic), and the hot path reads the
// clock twice per request.
func monotime() int64 { return int64(time.Since(epoch)) }

// monoTime converts a monotime reading to a time.Time.
func monoTime(ns int64) time.Time { return epoch.Add(time.Duration(ns)) }

// monoAdd is t + d for a monotime t, saturating: a bound of
// time.Duration(math.MaxInt64) ("forever") must not wrap to the past. A
// negative d (a deadline already passed) is added as is.
func monoAdd(t int64, d time.Duration) int64 {
	if int64(d) > math.MaxInt64-t {
		return math.MaxInt64
	}
	return t + int64(d)
}
