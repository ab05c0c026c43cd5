package rpc_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestRetryClosesPreviousAttemptsWriter: the writer of an attempt that
// returned rpc.Transient(err) is closed before the next attempt starts. It
// stayed open until the last attempt returned, so a worker goroutine the
// failed attempt left behind sent its stale value into the retried
// request's reply, ahead of the fresh one ("no retry ever repeats a
// reply").
func TestRetryClosesPreviousAttemptsWriter(t *testing.T) {
	var attempts atomic.Int32
	secondStarted := make(chan struct{})
	strayErr := make(chan error, 1)
	s, _ := startServer(t, rpc.Config{RetryAttempts: 1, RetryDelay: -1}, func(s *rpc.Server) {
		s.Handle("job", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
			if attempts.Add(1) == 1 {
				go func() {
					<-secondStarted // a late worker of the failed attempt
					strayErr <- w.Send("stale value from attempt 1")
				}()
				return rpc.Transient(errors.New("backend busy"))
			}
			close(secondStarted)
			if err := <-strayErr; err == nil {
				t.Errorf("attempt 1's writer still sent during attempt 2")
			}
			return w.Send("fresh")
		}))
	})
	c := dial(t, s)
	c.call(`"job"`, `null`, `1`, valueReply(`"fresh"`, `1`))
	if n := s.GetMetrics().Retries; n != 1 {
		t.Errorf("retries = %d, want 1", n)
	}
}
