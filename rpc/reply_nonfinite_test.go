package rpc_test

import (
	"context"
	"encoding/json"
	"math"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// NaN and ±Inf do not encode: where JSON.stringify writes null, the reply
// is the internal error and the failure is counted as errors_by_kind.encode
// (encoding/json's choice, documented on ResponseWriter.Send and
// wire.AppendJSON: a null would hide the handler's bug from its caller).
// The connection serves on.
func TestNonFiniteReplyIsAnEncodeError(t *testing.T) {
	sendErr := make(chan error, 1)
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("nan", rpc.Func(func(json.RawMessage) (any, error) { return math.NaN(), nil }))
		s.Handle("inf", rpc.Typed(func(context.Context, any) (map[string][]float64, error) {
			return map[string][]float64{"x": {math.Inf(1), 1}}, nil
		}))
		s.Handle("ok", rpc.Func(func(json.RawMessage) (any, error) { return 1.5, nil }))
		s.Handle("send", rpc.HandlerFunc(func(_ context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
			err := w.Send(math.Inf(-1))
			sendErr <- err
			return err // the handler passes it on
		}))
	})
	c := dial(t, s)
	c.call(`"nan"`, `null`, `1`, errReply(internalError, `1`))
	c.call(`"inf"`, `null`, `2`, errReply(internalError, `2`))
	c.call(`"ok"`, `null`, `3`, valueReply(`1.5`, `3`))
	c.call(`"send"`, `null`, `4`, errReply(internalError, `4`))
	if err := <-sendErr; err == nil {
		t.Error("Send(-Inf) returned nil")
	}
	if n := s.GetMetrics().ErrorByKind.Encode; n != 3 {
		t.Errorf("errors_by_kind.encode = %d, want 3", n)
	}
}
