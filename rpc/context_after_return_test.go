package rpc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestContextAfterReturnConsistent: once a handler has returned, its
// context must behave the same whether or not Done was first called before
// the return. release() cancelled the lazy context only if Done was
// already called; a first Done after the return built a fresh context (and
// a deadline timer, registered on the connection's context) never
// cancelled before the request's deadline (30 s by default; never, with no
// timeout), and Err() reported nil. A goroutine the handler started with its
// ctx (the usual `go work(ctx)`) thus stops at the return or runs on for the
// whole Timeout depending on a scheduling race.
func TestContextAfterReturnConsistent(t *testing.T) {
	t.Parallel()
	ctxs := make(chan context.Context, 2)
	srv, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("early", rpc.ContextFunc(func(ctx context.Context, _ json.RawMessage) (any, error) {
			_ = ctx.Done() // a helper goroutine selected on it before the return
			ctxs <- ctx
			return "ok", nil
		}))
		s.Handle("late", rpc.ContextFunc(func(ctx context.Context, _ json.RawMessage) (any, error) {
			ctxs <- ctx // a helper goroutine that looks at ctx only after the return
			return "ok", nil
		}))
	})
	c := dial(t, srv)
	c.call(`"early"`, "null", "1", valueReply(`"ok"`, "1"))
	early := <-ctxs
	c.call(`"late"`, "null", "2", valueReply(`"ok"`, "2"))
	late := <-ctxs

	// Both handlers have returned (their replies arrived).
	t.Logf("after return: early Err=%v, late Err=%v", early.Err(), late.Err())
	for name, ctx := range map[string]context.Context{"early": early, "late": late} {
		select {
		case <-ctx.Done():
		case <-time.After(3 * time.Second):
			t.Errorf("%s: Done not closed 3 s after the handler returned (Err=%v)", name, ctx.Err())
			continue
		}
		if ctx.Err() == nil {
			t.Errorf("%s: Done closed but Err() == nil", name)
		}
	}
	if (early.Err() == nil) != (late.Err() == nil) {
		t.Errorf("after return, Err() depends on whether Done was called before the return: early %v, late %v", early.Err(), late.Err())
	}
}

// TestOwnSubDeadlineIsAHandlerError: a handler that gives a
// downstream step its own short deadline, derived from ctx, and returns
// that step's context.DeadlineExceeded has failed; the request's own 30 s
// Timeout has not passed. docs/SERVER.md: "handler returns another error:
// Internal server error" (ExposeErrors sends the text). serve called
// rc.release() — which cancels the lazy context that WithTimeout(ctx, …)
// created — before errorValue asked rc.Err() != nil to tell "the request's
// context ended" from "the handler's own error". So the caller was told
// "Request timed out after 30s" after 20 ms, counted as a timeout; with
// context.Canceled (a downstream call the handler cancelled itself) it
// was "Request cancelled", counted canceled. Whether this happens depends
// only on whether the handler called ctx.Done() (WithTimeout does).
func TestOwnSubDeadlineIsAHandlerError(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, rpc.Config{ExposeErrors: true}, func(s *rpc.Server) {
		s.Handle("sub", rpc.ContextFunc(func(ctx context.Context, _ json.RawMessage) (any, error) {
			sub, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			<-sub.Done() // a downstream call that took too long
			return nil, fmt.Errorf("inventory lookup: %w", sub.Err())
		}))
		s.Handle("selfcancel", rpc.ContextFunc(func(ctx context.Context, _ json.RawMessage) (any, error) {
			sub, cancel := context.WithCancel(ctx)
			cancel() // e.g. the first of two parallel lookups answered
			return nil, fmt.Errorf("lookup abandoned: %w", sub.Err())
		}))
	})
	c := dial(t, srv)
	c.call(`"sub"`, "null", "1", errReply(`{"status":"error","message":"inventory lookup: context deadline exceeded"}`, "1"))
	c.call(`"selfcancel"`, "null", "2", errReply(`{"status":"error","message":"lookup abandoned: context canceled"}`, "2"))
	m := srv.GetMetrics().ErrorByKind
	if m.Timeout != 0 || m.Canceled != 0 {
		t.Errorf("errors_by_kind: timeout=%d canceled=%d, want 0 and 0 (the request neither timed out nor was cancelled)", m.Timeout, m.Canceled)
	}
}
