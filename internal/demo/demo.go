// Package demo registers the demo contract: the example patterns that
// `msgpattern serve` offers and that the NestJS interop tests call
// (interop/nestjs/README.md describes the contract; its server.mjs is the
// same contract served by real NestJS). It uses only the public rpc API.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"strconv"
	"sync"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// Register adds the demo handlers to s.
func Register(s *rpc.Server) {
	var ev eventLog

	s.Handle("ping", rpc.Func(func(json.RawMessage) (any, error) { return "pong", nil }))
	s.Handle("echo", rpc.Func(func(data json.RawMessage) (any, error) { return data, nil }))
	s.Handle("sum", rpc.Typed(func(_ context.Context, in []float64) (float64, error) { return sum(in), nil }))
	s.Handle(42, rpc.Func(func(json.RawMessage) (any, error) { return "forty-two", nil }))
	s.Handle(map[string]any{"cmd": "sum2", "role": "math"}, rpc.Typed(func(_ context.Context, in []float64) (string, error) {
		return "sum2:" + strconv.FormatFloat(sum(in), 'f', -1, 64), nil
	}))
	s.Handle(map[string]any{"cmd": "nested", "opts": map[string]any{"a": "x", "z": 1}},
		rpc.Func(func(json.RawMessage) (any, error) { return "nested-ok", nil }))
	s.Handle("stream3", rpc.Stream(func(ctx context.Context, _ json.RawMessage) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			for i := 1; i <= 3; i++ {
				if !yield(i, nil) {
					return
				}
			}
		}
	}))
	s.Handle("fail", rpc.Func(func(json.RawMessage) (any, error) { return nil, rpc.NewError("bad input") }))
	s.Handle("failobj", rpc.Func(func(json.RawMessage) (any, error) {
		return nil, &rpc.Error{Message: "bad", Payload: json.RawMessage(`{"status":400,"message":"bad"}`)}
	}))
	// Without retries, so that callers see the error at once.
	s.Handle("boom", rpc.Func(func(json.RawMessage) (any, error) { return nil, errors.New("boom") }), rpc.WithoutRetry())
	s.Handle("slow", rpc.Typed(func(ctx context.Context, ms float64) (string, error) {
		select {
		case <-time.After(time.Duration(ms * float64(time.Millisecond))):
			return "slow:" + strconv.FormatFloat(ms, 'f', -1, 64), nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}))
	s.Handle("events", rpc.Func(func(json.RawMessage) (any, error) { return ev.takeAll(), nil }))
	s.HandleEvent("evt", rpc.Event(func(_ context.Context, data json.RawMessage) error {
		ev.add(data)
		return nil
	}))
}

func sum(xs []float64) float64 {
	t := 0.0
	for _, x := range xs {
		t += x
	}
	return t
}

// eventLog records the data of events, for the "events" pattern.
type eventLog struct {
	mu   sync.Mutex
	data []json.RawMessage
}

func (l *eventLog) add(d json.RawMessage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.data = append(l.data, append(json.RawMessage(nil), d...))
}

// takeAll returns the recorded data and forgets it, so that each client run
// sees only its own events.
func (l *eventLog) takeAll() []json.RawMessage {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.data
	l.data = nil
	if out == nil {
		out = []json.RawMessage{}
	}
	return out
}
