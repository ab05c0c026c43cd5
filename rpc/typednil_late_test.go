package rpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// lateErr is an application error type whose methods need a value, as
// TestTypedNilErrorsAnsweredAsInternal's are.
type lateErr struct{ cause error }

func (e *lateErr) Error() string { return "late: " + e.cause.Error() }
func (e *lateErr) Unwrap() error { return e.cause }

// TestTypedNilErrorAfterTimeoutDoesNotCrash: a typed-nil error is answered
// safely when the handler returns in time (errorValue recovers); returned
// after the request's Timeout, serve examines it with errors.Is
// (producedResult), under the request's lock and outside any recover: the
// process dies.
func TestTypedNilErrorAfterTimeoutDoesNotCrash(t *testing.T) {
	s, _ := startServer(t, rpc.Config{Timeout: 50 * time.Millisecond}, func(s *rpc.Server) {
		s.Handle("late", rpc.HandlerFunc(func(ctx context.Context, _ rpc.ResponseWriter, _ *rpc.Request) error {
			<-ctx.Done()
			var e *lateErr
			return e // typed nil
		}))
		s.Handle("ping", rpc.Func(func(json.RawMessage) (any, error) { return "pong", nil }))
	})
	c := dial(t, s)
	c.write(reqFrame(`"late"`, `null`, `1`))
	if f := c.readFrame(); f == "" {
		t.Fatal("no timeout reply")
	}
	c.write(reqFrame(`"ping"`, `null`, `2`))
	if f, want := c.readFrame(), valueReply(`"pong"`, `2`); f != want {
		t.Fatalf("got %q, want %q", f, want)
	}
}
