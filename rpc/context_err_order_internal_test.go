package rpc

import (
	"context"
	"testing"
	"time"
)

// TestErrDeadlineBeforeCancel: a request's context whose deadline passed
// before its parent (the connection's context) was cancelled, asked for
// its error only after both, answered the parent's Canceled: as with
// context.WithDeadline, what happened first decides, here the deadline.
// A Stream whose sequence stopped at its deadline then took the
// cancellation for a sequence that completed, and its return was counted
// as a late result dropped (TestStreamHeldAtDeadlineNotLate under load).
func TestErrDeadlineBeforeCancel(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline time.Duration // from now; 0: none
		cancel   bool          // the parent is cancelled after the deadline is set
		done     bool          // Done is asked for before Err
		want     error
	}{
		{"deadline passed, then cancelled", -time.Millisecond, true, false, context.DeadlineExceeded},
		{"deadline passed, then cancelled, Done first", -time.Millisecond, true, true, context.DeadlineExceeded},
		{"cancelled before the deadline", time.Hour, true, false, context.Canceled},
		{"cancelled before the deadline, Done first", time.Hour, true, true, context.Canceled},
		{"cancelled, no deadline", 0, true, false, context.Canceled},
		{"deadline passed, parent live", -time.Millisecond, false, false, context.DeadlineExceeded},
		{"deadline passed, parent live, Done first", -time.Millisecond, false, true, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent, cancel := context.WithCancel(context.Background())
			defer cancel()
			rc := &requestContext{parent: parent}
			if tc.deadline != 0 {
				rc.deadline = monotime() + int64(tc.deadline)
			}
			if tc.cancel {
				cancel() // after the deadline, when it has passed
			}
			if tc.done {
				select {
				case <-rc.Done():
				default:
					t.Fatal("Done not closed although the context ended")
				}
			}
			for i := range 3 { // stable once non-nil
				if err := rc.Err(); err != tc.want {
					t.Fatalf("Err #%d = %v, want %v", i+1, err, tc.want)
				}
			}
		})
	}
}
