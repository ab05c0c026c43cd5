package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestErrorAfterAnswerCountsNowhere: an error a middleware returns after a
// unary handler's reply went out whole reaches nobody (the caller has the
// value): the pattern's counters, like the error kinds, count no failure.
// The pattern's error count used to count one.
func TestErrorAfterAnswerCountsNowhere(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Use(func(next rpc.Handler) rpc.Handler {
			return rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
				if err := next.ServeMessage(ctx, w, r); err != nil {
					return err
				}
				return errors.New("audit write failed")
			})
		})
		s.Handle("answered", rpc.Func(func(json.RawMessage) (any, error) { return 1, nil }))
		s.Handle("failing", rpc.Func(func(json.RawMessage) (any, error) { return nil, errors.New("no") }))
	})
	c := dial(t, s)
	c.call(`"answered"`, `null`, `1`, valueReply(`1`, `1`))
	c.call(`"failing"`, `null`, `2`, errReply(`{"status":"error","message":"Internal server error"}`, `2`))
	m := s.GetMetrics()
	errs := map[string]uint64{}
	for _, p := range m.Patterns {
		errs[p.Pattern] = p.Errors
	}
	if errs["answered"] != 0 || errs["failing"] != 1 {
		t.Errorf("pattern errors = %v, want answered 0 (its caller got the value), failing 1", errs)
	}
	if m.Errors != 1 {
		t.Errorf("server errors = %d, want 1", m.Errors)
	}
}
