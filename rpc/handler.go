package rpc

import (
	"context"
	"encoding/json"
)

// A Handler serves messages routed to one pattern.
//
// ServeMessage sends the reply's values through w and returns when the
// reply is complete. A unary handler sends one value; a streaming handler
// sends several, which reach a NestJS caller as the values of an
// Observable. Returning nil completes the reply; returning an error ends it
// with that error (see [Error] for what the caller sees). For an event,
// values sent are discarded.
//
// ctx is cancelled when the request's timeout passes, when the peer
// disconnects (not for an event: it was delivered, and nobody waits for
// it), when the server is forced to shut down, and when ServeMessage
// returns (as net/http's request context is), so that goroutines started
// with it stop. A request retried (see Config.RetryAttempts) keeps its
// context across its attempts; w does not: the writer of an attempt that
// returned refuses sends, so that nothing an attempt left running reaches
// the retried reply.
type Handler interface {
	ServeMessage(ctx context.Context, w ResponseWriter, r *Request) error
}

// HandlerFunc is an adapter to allow the use of ordinary functions as
// handlers.
type HandlerFunc func(ctx context.Context, w ResponseWriter, r *Request) error

// ServeMessage calls f(ctx, w, r).
func (f HandlerFunc) ServeMessage(ctx context.Context, w ResponseWriter, r *Request) error {
	return f(ctx, w, r)
}

// ResponseWriter sends the values of a reply. It is safe for use by one
// goroutine at a time, and only until ServeMessage returns.
type ResponseWriter interface {
	// Send encodes v as JSON, as JSON.stringify would (wire.AppendJSON), and
	// sends it as the next value of the reply. A json.RawMessage is sent as
	// is, compacted (whitespace would break a line-framed reply). Where
	// encoding/json and JSON.stringify differ, encoding/json's choice
	// stands: NaN and ±Inf do not encode (JSON.stringify writes null, which
	// would hide the bug from the caller): Send returns the error, and a
	// handler returning it (as Func and Typed handlers do) gives the caller
	// "Internal server error", counted as errors_by_kind.encode. Once a
	// write to the caller has failed (its connection was reset or dropped)
	// it returns ErrCallerGone. A caller that closed is not told apart from
	// one that only half-closed and still reads, so the first Sends after
	// its close (and after ctx ended) may still return nil: a stream should
	// watch ctx too. It waits while more
	// than MaxQueuedReplyBytes/2 (at most 1 MiB) of replies wait for the
	// caller to read them, so a stream never outruns a caller that reads.
	// For an event it sends nothing, and returns the context's error once
	// that ends (or an error after the handler returned). v is encoded
	// before the reply is locked: a slow MarshalJSON (or MarshalText) holds
	// up neither the request's timeout reply nor the connection's other
	// replies, and may use the request's context.
	Send(v any) error
}

// Middleware wraps a handler with behaviour of its own: logging, auth,
// tracing. It sees every message whose handler runs, its context and
// request, what it sends (by wrapping w) and the error it returns; a
// message refused before its handler (WithMaxDataBytes, no handler) is
// not seen, and is counted in Metrics instead.
type Middleware func(Handler) Handler

// Func adapts a function of the original API: it receives the raw data and
// returns one value to send, or an error.
func Func(f func(data json.RawMessage) (any, error)) Handler {
	mustNotBeNil(f == nil, "Func")
	return HandlerFunc(func(_ context.Context, w ResponseWriter, r *Request) error {
		v, err := f(r.Data)
		if err != nil {
			return err
		}
		return sendUnary(w, v)
	})
}

// ContextFunc adapts a function that takes the request context and raw data
// and returns one value to send, or an error.
func ContextFunc(f func(ctx context.Context, data json.RawMessage) (any, error)) Handler {
	mustNotBeNil(f == nil, "ContextFunc")
	return HandlerFunc(func(ctx context.Context, w ResponseWriter, r *Request) error {
		v, err := f(ctx, r.Data)
		if err != nil {
			return err
		}
		return sendUnary(w, v)
	})
}

// mustNotBeNil panics, at registration rather than at every request, when
// an adapter is given a nil function.
func mustNotBeNil(isNil bool, adapter string) {
	if isNil {
		panic("rpc: " + adapter + " of a nil function")
	}
}
