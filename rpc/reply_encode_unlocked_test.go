package rpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// slowMarshaler encodes slowly, as a value that loads or computes its JSON
// on demand does.
type slowMarshaler struct{ d time.Duration }

func (v slowMarshaler) MarshalJSON() ([]byte, error) {
	time.Sleep(v.d)
	return []byte(`"slow"`), nil
}

// TestSlowMarshalerHoldsUpNoOtherReply: a slow handler never holds up the
// others, also when the slow part is encoding its result. The value's
// MarshalJSON once ran under the connection's write lock, so every other
// reply of the connection waited for it (3 s here).
func TestSlowMarshalerHoldsUpNoOtherReply(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("slow", rpc.Typed(func(ctx context.Context, _ int) (slowMarshaler, error) {
			return slowMarshaler{3 * time.Second}, nil
		}))
		s.Handle("ping", rpc.Func(func(json.RawMessage) (any, error) { return "pong", nil }))
	})
	c := dial(t, srv)
	c.write(reqFrame(`"slow"`, "1", "1"))
	time.Sleep(100 * time.Millisecond) // the slow reply is encoding
	start := time.Now()
	c.write(reqFrame(`"ping"`, "null", "2"))
	f := c.readFrame()
	if took := time.Since(start); f != valueReply(`"pong"`, "2") || took > time.Second {
		t.Errorf("ping answered after %v with %q: held up by another request's encoding", took, f)
	}
	c.expectFrame(valueReply(`"slow"`, "1"))
}

// TestSlowMarshalerAnsweredAtDeadline: a request is answered at its
// deadline even if the handler ignores its context, also when its result
// is slow to encode. The timeout timer takes the request's lock, which
// the reply once held while the value encoded.
func TestSlowMarshalerAnsweredAtDeadline(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, rpc.Config{Timeout: 100 * time.Millisecond}, func(s *rpc.Server) {
		s.Handle("slow", rpc.Typed(func(ctx context.Context, _ int) (slowMarshaler, error) {
			return slowMarshaler{3 * time.Second}, nil
		}))
	})
	c := dial(t, srv)
	start := time.Now()
	c.write(reqFrame(`"slow"`, "1", "1"))
	f := c.readFrame()
	if took := time.Since(start); took > 1500*time.Millisecond || f == valueReply(`"slow"`, "1") {
		t.Errorf("reply %q came after %v, Timeout 100ms", f, took)
	}
}
