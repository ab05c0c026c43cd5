package rpc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// validate is the usual helper returning a concrete *rpc.Error, nil when
// the input is fine: returned as an error, its nil is a typed nil.
func validate(json.RawMessage) *rpc.Error { return nil }

// lookupError is an application's error type whose methods need a value.
type lookupError struct{ key string }

func (e *lookupError) Error() string { return "no such key: " + e.key }

func lookup(json.RawMessage) *lookupError { return nil }

// TestTypedNilErrorsAnsweredAsInternal: a handler that returns a typed-nil
// error (Go's classic mistake: a nil *T returned as an error is not nil)
// gets an internal error reply, and the server serves on. A nil *rpc.Error
// was dereferenced while its reply was chosen, outside the handler's
// recover, and took the whole process down, every connection with it; so
// did an application's error type whose Error method needs a value, when
// the reply's choice logged it.
func TestTypedNilErrorsAnsweredAsInternal(t *testing.T) {
	for _, expose := range []bool{false, true} {
		t.Run(fmt.Sprintf("ExposeErrors=%v", expose), func(t *testing.T) {
			// slog's JSON handler calls an error's Error method itself
			// (it recovers); with ExposeErrors the reply's choice does.
			s := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, RetryAttempts: 1, RetryDelay: -1, ExposeErrors: expose},
				slog.New(slog.NewJSONHandler(io.Discard, nil)))
			rpc.NewServerWrapper(s).MessagePattern("check", func(data json.RawMessage) (interface{}, error) {
				return nil, validate(data)
			})
			s.Handle("wrapped", rpc.Typed(func(_ context.Context, in int) (int, error) {
				return 0, fmt.Errorf("checking: %w", validate(nil))
			}))
			s.Handle("transient", rpc.Typed(func(_ context.Context, in int) (int, error) {
				return 0, rpc.Transient(validate(nil))
			}))
			s.Handle("lookup", rpc.Func(func(data json.RawMessage) (any, error) {
				return nil, lookup(data)
			}))
			s.Handle("ping", rpc.Func(func(json.RawMessage) (any, error) { return "pong", nil }))
			serveTCP(t, s)
			c := dial(t, s)
			for i, p := range []string{`"check"`, `"wrapped"`, `"transient"`, `"lookup"`} {
				id := fmt.Sprint(i + 1)
				c.call(p, `1`, id, errReply(internalError, id))
			}
			c.call(`"ping"`, `null`, `9`, valueReply(`"pong"`, `9`))
		})
	}
}
