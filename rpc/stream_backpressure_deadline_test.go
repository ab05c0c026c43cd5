package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestStreamHeldAtDeadlineNotLate: streams held by backpressure (their
// peer does not read) when their deadline passes, whose sequences stop
// when ctx ends as rpc.Stream asks, gave up: every value they produced was
// queued before the timeout reply, none came after it. One held in Send's
// wait for room (the other stream's Send doing the write) was counted in
// errors_by_kind.late_results_dropped ("results that came after the
// timeout reply") besides its timeout: the wait ends at the deadline with
// ErrReplyClosed, which is taken for a late value refused.
//
// A stream the machine starves between its ctx check and its Send until
// past the deadline does send late (Send's own deadline check answers it
// ErrReplyClosed alone, not wrapping the deadline): such a round proves
// nothing, and another is run.
func TestStreamHeldAtDeadlineNotLate(t *testing.T) {
	t.Parallel()
	for round := 1; ; round++ {
		late, conclusive := streamsHeldAtDeadline(t)
		if conclusive {
			if late != 0 {
				t.Errorf("late_results_dropped %d; want 0", late)
			}
			return
		}
		if round == 5 {
			t.Fatal("five rounds in which the machine starved a stream past its deadline before its Send")
		}
	}
}

// streamsHeldAtDeadline runs two streams held by a peer that does not read
// until their deadline, and returns the late results counted and whether
// both were held in Send at the deadline (the round is conclusive).
func streamsHeldAtDeadline(t *testing.T) (late uint64, conclusive bool) {
	val := strings.Repeat("x", 64<<10)
	errs := make(chan error, 2)
	srv, stop := startServer(t, rpc.Config{MaxQueuedReplyBytes: 256 << 10, WriteTimeout: 2 * time.Second}, func(s *rpc.Server) {
		s.Handle("flood", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
			h := rpc.Stream(func(ctx context.Context, _ json.RawMessage) iter.Seq2[string, error] {
				return func(yield func(string, error) bool) {
					for ctx.Err() == nil && yield(val, nil) {
					}
				}
			})
			err := h.ServeMessage(ctx, w, r)
			errs <- err
			return err
		}), rpc.WithTimeout(300*time.Millisecond))
	})
	defer stop()
	nc := rawDial(t, srv, 16<<10)
	defer nc.Close()
	if _, err := nc.Write([]byte(reqFrame(`"flood"`, `null`, `1`) + reqFrame(`"flood"`, `null`, `2`))); err != nil {
		t.Fatal(err)
	}
	// The peer does not read.
	conclusive = true
	for range 2 {
		select {
		case err := <-errs:
			t.Logf("stream ended with %v", err)
			if errors.Is(err, rpc.ErrReplyClosed) && !errors.Is(err, context.DeadlineExceeded) {
				conclusive = false // a Send begun after the deadline: late indeed
			}
		case <-time.After(8 * time.Second):
			t.Fatal("a stream did not end")
		}
	}
	var m rpc.Metrics
	if !eventually(5*time.Second, func() bool { m = srv.GetMetrics(); return m.Requests == 2 }) {
		t.Fatalf("requests not counted: %+v", m)
	}
	if m.ErrorByKind.Timeout != 2 {
		t.Errorf("timeout %d; want 2", m.ErrorByKind.Timeout)
	}
	return m.ErrorByKind.LateResultsDropped, conclusive
}
