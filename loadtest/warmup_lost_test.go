package loadtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/loadtest"
)

// TestLostDuringWarmupEndsAtOnce: a run whose every connection is lost
// during the warmup has nothing left to do; it ends then, with its error,
// rather than sleeping through the rest of the warmup (bench --warmup 1m
// against a server that hangs up sat a minute doing nothing).
func TestLostDuringWarmupEndsAtOnce(t *testing.T) {
	const warmup = 5 * time.Second
	t.Run("Run", func(t *testing.T) {
		addr := startHangUpServer(t)
		start := time.Now()
		res, err := loadtest.Run(context.Background(), loadtest.Config{
			Addr: addr, Requests: 10, Warmup: warmup, Pattern: []byte(`"sum"`),
		})
		if took := time.Since(start); err == nil || took > warmup/2 {
			t.Errorf("every connection lost during a %s warmup: %+v, %v after %s; want an error at once", warmup, res, err, took.Round(time.Millisecond))
		}
	})
	t.Run("RunCalls", func(t *testing.T) {
		gone := errors.New("connection closed")
		start := time.Now()
		res, err := loadtest.RunCalls(context.Background(), loadtest.Config{
			Connections: 2, InFlight: 2, Requests: 10, Warmup: warmup,
		}, func(context.Context, int) (string, error) { return loadtest.KindNoReply, gone })
		if took := time.Since(start); !errors.Is(err, gone) || took > warmup/2 {
			t.Errorf("every connection lost during a %s warmup: %+v, %v after %s; want an error at once", warmup, res, err, took.Round(time.Millisecond))
		}
	})
}
