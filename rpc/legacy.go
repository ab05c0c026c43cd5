package rpc

import (
	"context"
	"encoding/json"
)

// ServerWrapper is the original registration API, kept so that code written
// against it compiles unchanged:
//
//	wrapper := rpc.NewServerWrapper(server)
//	wrapper.MessagePattern("ping", func(data json.RawMessage) (interface{}, error) {
//		return "pong", nil
//	})
//
// New code can call [Server.Handle] with [Func], [Typed], [Stream] or any
// [Handler] directly.
type ServerWrapper struct {
	server *Server
}

// NewServerWrapper returns the registration API of server.
func NewServerWrapper(server *Server) *ServerWrapper { return &ServerWrapper{server: server} }

// MessagePattern registers handler for requests matching pattern (a string,
// number or object). It panics if the pattern is already registered.
func (w *ServerWrapper) MessagePattern(pattern any, handler func(data json.RawMessage) (interface{}, error)) {
	w.server.Handle(pattern, Func(handler))
}

// EventPattern registers handler for events matching pattern.
func (w *ServerWrapper) EventPattern(pattern any, handler func(data json.RawMessage) error) {
	mustNotBeNil(handler == nil, "EventPattern")
	w.server.HandleEvent(pattern, HandlerFunc(func(_ context.Context, _ ResponseWriter, r *Request) error {
		return handler(r.Data)
	}))
}
