package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestLateResultsDroppedNotCountingGiveUps: a handler that honours its
// context and returns ctx.Err() at the deadline produces no result, yet it
// is counted in errors_by_kind.late_results_dropped ("results that came
// after the timeout reply") whenever the timeout timer wins the race with
// the handler's return. When the handler returns first, dispatcher.serve
// counts a late return only if err == nil: the same handler is counted or
// not at random. Here the handler returns its context's error only after
// the caller has the timeout reply, so the timer path is taken every time.
func TestLateResultsDroppedNotCountingGiveUps(t *testing.T) {
	replied := make(chan struct{})
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("giveup", rpc.ContextFunc(func(ctx context.Context, _ json.RawMessage) (any, error) {
			<-ctx.Done()
			<-replied
			return nil, ctx.Err() // no result: the handler gave up
		}), rpc.WithTimeout(50*time.Millisecond))
	})
	c := newTestClient(t, s.Addr().String())
	err := c.Send(context.Background(), "giveup", nil, nil)
	var re *rpc.Error
	if !errors.As(err, &re) {
		t.Fatalf("Send: %v, want the timeout error reply", err)
	}
	close(replied)
	// The request is counted once its handler has returned.
	eventually(ioTimeout, func() bool {
		for _, p := range s.GetMetrics().Patterns {
			if p.Pattern == "giveup" && p.Count == 1 {
				return true
			}
		}
		return false
	})
	m := s.GetMetrics()
	t.Logf("timeout=%d late_results_dropped=%d", m.ErrorByKind.Timeout, m.ErrorByKind.LateResultsDropped)
	if m.ErrorByKind.Timeout != 1 {
		t.Fatalf("timeout = %d, want 1", m.ErrorByKind.Timeout)
	}
	if m.ErrorByKind.LateResultsDropped != 0 {
		t.Errorf("late_results_dropped = %d, want 0: the handler returned its context's error, no result was dropped", m.ErrorByKind.LateResultsDropped)
	}
}

// TestLateResultsDroppedSameWhicheverComesFirst: twenty identical requests to a
// handler that returns ctx.Err() as soon as its context ends; how many are
// counted as late results dropped depends on which of the timeout timer and
// the handler's return wins. Whatever the intended meaning, it must be the
// same for every one of them (all 0 or all 20).
func TestLateResultsDroppedSameWhicheverComesFirst(t *testing.T) {
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("giveup", rpc.ContextFunc(func(ctx context.Context, _ json.RawMessage) (any, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}), rpc.WithTimeout(30*time.Millisecond))
	})
	c := newTestClient(t, s.Addr().String())
	const n = 20
	for range n {
		_ = c.Send(context.Background(), "giveup", nil, nil)
	}
	eventually(ioTimeout, func() bool {
		for _, p := range s.GetMetrics().Patterns {
			if p.Pattern == "giveup" && p.Count == n {
				return true
			}
		}
		return false
	})
	m := s.GetMetrics()
	t.Logf("timeout=%d late_results_dropped=%d", m.ErrorByKind.Timeout, m.ErrorByKind.LateResultsDropped)
	if late := m.ErrorByKind.LateResultsDropped; late != 0 && late != n {
		t.Errorf("late_results_dropped = %d of %d identical timed-out requests: counted at random", late, n)
	}
}
