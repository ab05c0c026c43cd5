package rpc

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/msgpattern/msgpattern/internal/textclip"
	"github.com/msgpattern/msgpattern/wire"
)

// ErrServerClosed is returned by [Server.Start] after [Server.Shutdown].
var ErrServerClosed = errors.New("rpc: server closed")

// Error is an error reply, the one type for both sides (as connect-go
// has): a handler returns one to choose exactly what the caller sees, like
// NestJS's RpcException, and a client returns one when the remote side
// answered with an error. So a handler that returns the *Error its own
// call got forwards the downstream status and message verbatim — except
// that a downstream "no handler" is sent as an internal error, so that it
// does not look like this server's own (and is logged). Any other error
// returned by a handler, and any panic, reaches the caller as
// {"status":"error","message":"Internal server error"} and is logged.
//
// The message reaches the caller: take care not to leak sensitive details.
type Error struct {
	// Status is the error's status: "error" for RpcException("…"), or the
	// status of an object error as text ("400"). A handler may leave it
	// empty ("error"). It is sent as a JSON string: for a numeric status
	// (a NestJS caller testing err.status === 400), use NewErrorObject.
	Status string
	// Message is sent as {"status":Status,"message":Message}, the shape of
	// RpcException("message"), unless Payload is set. On the client side
	// it is read from the error value.
	Message string
	// Payload, when not nil, is sent as the error value (compacted), the
	// shape of RpcException({...}); it must be valid JSON. A payload that
	// is not an object or array is sent as RpcException(value) is:
	// {"status":"error","message":value}. On the client side it is the
	// "err" value exactly as received.
	Payload json.RawMessage
	// Cause is an underlying error, for errors.Is/As on the server side.
	// It is never sent.
	Cause error

	remote      bool // received by a client
	undelivered bool // nobody received the request (NATS no responders): also ErrUnavailable
}

// NewError returns an *Error whose caller sees {"status":"error","message":msg}.
func NewError(msg string) *Error { return &Error{Message: msg} }

// Errorf formats an *Error message; %w wraps a cause as fmt.Errorf does.
// The message, which is sent, holds the cause's text too, as fmt.Errorf's
// does: for a cause the caller must not see, set Cause yourself.
func Errorf(format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	cause := errors.Unwrap(err)
	if _, many := err.(interface{ Unwrap() []error }); many {
		// Several %w: fmt.Errorf's error is what wraps them all.
		cause = err
	}
	return &Error{Message: err.Error(), Cause: cause}
}

// NewErrorObject returns an *Error whose caller sees v, encoded as JSON, as
// the error value, e.g. NewErrorObject(map[string]any{"status": 400, "message": "bad"}).
func NewErrorObject(v any) (*Error, error) {
	b, err := wire.AppendJSON(nil, v)
	if err != nil {
		return nil, fmt.Errorf("rpc: encoding error payload: %w", err)
	}
	msg := string(b)
	// A map, not a tagged struct: encoding/json would match "MESSAGE" too,
	// where a NestJS caller's err.message is that exact name.
	var members map[string]json.RawMessage
	if json.Unmarshal(b, &members) == nil {
		var m any
		if json.Unmarshal(members["message"], &m) == nil && m != nil {
			msg = fmt.Sprint(m)
		}
	}
	return &Error{Message: msg, Payload: b}, nil
}

func (e *Error) Error() string {
	if e == nil {
		return "rpc: nil *rpc.Error"
	}
	if !e.remote {
		return e.Message
	}
	if e.Message != "" {
		return "rpc: remote error: " + e.Message
	}
	return "rpc: remote error: " + string(e.Payload)
}

// Is makes errors.Is(err, ErrNoHandler) recognise a received no-handler
// answer, and errors.Is(err, ErrUnavailable) an undelivered request.
func (e *Error) Is(target error) bool {
	if e == nil {
		return false
	}
	return target == ErrNoHandler && e.remote && e.Message == wire.NoHandlerMessage ||
		target == ErrUnavailable && e.undelivered
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.Cause
}

// appendValue appends the JSON error value sent for e.
func (e *Error) appendValue(dst []byte) []byte {
	if e.Payload != nil {
		start := len(dst)
		if out, err := wire.AppendJSON(dst, e.Payload); err == nil {
			if c := out[start]; c == '{' || c == '[' {
				return out
			}
			// NestJS's exception filter sends RpcException(v), v not an
			// object, as {"status":"error","message":v}: so is such a
			// payload. Sent bare, a falsy one (null, false, 0, "") would
			// read as no error at all to every client.
			dst = append(out[:start], `{"status":"error","message":`...)
			dst, _ = wire.AppendJSON(dst, e.Payload)
			return append(dst, '}')
		}
		// An invalid payload must not corrupt the stream: fall back to the
		// message shape.
	}
	if e.Status != "" && e.Status != "error" {
		dst = append(dst, `{"status":`...)
		dst = wire.AppendString(dst, e.Status)
		dst = append(dst, `,"message":`...)
		dst = wire.AppendString(dst, e.Message)
		return append(dst, '}')
	}
	return appendStatusError(dst, e.Message)
}

// appendStatusError appends {"status":"error","message":msg}.
func appendStatusError(dst []byte, msg string) []byte {
	dst = append(dst, `{"status":"error","message":`...)
	dst = wire.AppendString(dst, msg)
	return append(dst, '}')
}

// internalErrorMessage is what NestJS sends for an unexpected error.
const internalErrorMessage = "Internal server error"

// errorKind classifies failures for metrics and logs.
type errorKind uint8

const (
	kindHandler      errorKind = iota // the handler returned an unexpected error
	kindRPC                           // the handler returned an *Error
	kindPanic                         // the handler panicked
	kindDecode                        // the request data did not decode
	kindEncode                        // the result did not encode
	kindCanceled                      // the context ended by disconnect or shutdown
	kindTimeout                       // the request's deadline passed
	kindShuttingDown                  // refused because the server is shutting down
	kindDataTooLarge                  // refused by WithMaxDataBytes before its handler ran
)

// decodeError marks a failure to decode request data in a typed handler, so
// it is reported to the caller (it is about their input) and counted apart.
type decodeError struct {
	pattern string
	err     error
}

// The decoder's error may quote the input (a number as long as the frame):
// the text, which goes back to the caller and into logs and spans, is cut.
func (e *decodeError) Error() string {
	return "rpc: invalid data for pattern " + e.pattern + ": " + textclip.Clip(e.err.Error(), decodeErrorTextMax)
}

// decodeErrorTextMax bounds the decoder's part of a decodeError's text.
const decodeErrorTextMax = 512

func (e *decodeError) Unwrap() error { return e.err }
