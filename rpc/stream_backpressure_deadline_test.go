package rpc_test

import (
	"context"
	"encoding/json"
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
func TestStreamHeldAtDeadlineNotLate(t *testing.T) {
	t.Parallel()
	val := strings.Repeat("x", 64<<10)
	errs := make(chan error, 2)
	srv, _ := startServer(t, rpc.Config{MaxQueuedReplyBytes: 256 << 10, WriteTimeout: 2 * time.Second}, func(s *rpc.Server) {
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
	nc := rawDial(t, srv, 16<<10)
	if _, err := nc.Write([]byte(reqFrame(`"flood"`, `null`, `1`) + reqFrame(`"flood"`, `null`, `2`))); err != nil {
		t.Fatal(err)
	}
	// The peer does not read.
	for range 2 {
		select {
		case err := <-errs:
			t.Logf("stream ended with %v", err)
		case <-time.After(8 * time.Second):
			t.Fatal("a stream did not end")
		}
	}
	var m rpc.Metrics
	if !eventually(5*time.Second, func() bool { m = srv.GetMetrics(); return m.Requests == 2 }) {
		t.Fatalf("requests not counted: %+v", m)
	}
	if e := m.ErrorByKind; e.Timeout != 2 || e.LateResultsDropped != 0 {
		t.Errorf("timeout %d, late_results_dropped %d; want 2, 0", e.Timeout, e.LateResultsDropped)
	}
}
