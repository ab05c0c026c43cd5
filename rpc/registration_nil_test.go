package rpc_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestRegistrationRefusesNil: a nil function, handler, option or middleware
// is a programming error, refused at registration with a panic that names
// it, and the router is left as it was. Func(nil) and its kin used to be
// accepted and then fail every request as a handler panic; Use(nil) panicked
// only after adding the nil to the chain, so that every later Handle or Use
// panicked too.
func TestRegistrationRefusesNil(t *testing.T) {
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("ping", rpc.Func(func(json.RawMessage) (any, error) { return "pong", nil }))
	})
	tests := []struct {
		name, want string
		do         func()
	}{
		{"Func", "Func of a nil function", func() { rpc.Func(nil) }},
		{"ContextFunc", "ContextFunc of a nil function", func() { rpc.ContextFunc(nil) }},
		{"Typed", "Typed of a nil function", func() { rpc.Typed[int, int](nil) }},
		{"Stream", "Stream of a nil function", func() { rpc.Stream[int, int](nil) }},
		{"Event", "Event of a nil function", func() { rpc.Event[int](nil) }},
		{"MessagePattern", "Func of a nil function", func() { rpc.NewServerWrapper(s).MessagePattern("a", nil) }},
		{"EventPattern", "EventPattern of a nil function", func() { rpc.NewServerWrapper(s).EventPattern("b", nil) }},
		{"nil HandlerFunc", "nil handler", func() { s.Handle("c", rpc.HandlerFunc(nil)) }},
		{"nil option", "nil HandleOption", func() { s.Handle("d", rpc.Func(func(json.RawMessage) (any, error) { return 1, nil }), nil) }},
		{"Use(nil)", "nil middleware", func() { s.Use(nil) }},
		{"middleware returning nil", "middleware returned a nil handler", func() { s.Use(func(rpc.Handler) rpc.Handler { return nil }) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				p := recover()
				if msg, _ := p.(string); !strings.Contains(msg, tt.want) {
					t.Errorf("panic %v, want one saying %q", p, tt.want)
				}
			}()
			tt.do()
		})
	}
	// The router is as it was: later registrations work, and the
	// registered handler answers through them.
	s.Use(func(h rpc.Handler) rpc.Handler { return h })
	s.Handle("e", rpc.Typed(func(_ context.Context, n int) (int, error) { return n + 1, nil }))
	c := dial(t, s)
	c.call(`"ping"`, `null`, `1`, valueReply(`"pong"`, `1`))
	c.call(`"e"`, `1`, `2`, valueReply(`2`, `2`))
	c.call(`"c"`, `null`, `3`, frame(`{"id":3,"status":"error","err":"There is no matching message handler defined in the remote service."}`))
}
