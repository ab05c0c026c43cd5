package rpc

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Local client errors: the call got no reply from a remote handler, for a
// reason on this side or on the way. They are distinct from the [*Error] a
// remote side answers with. ErrUnavailable (transient.go) says the request
// was never delivered.
var (
	// ErrClientClosed is returned by calls on a closed Client.
	ErrClientClosed = errors.New("rpc: client closed")
	// ErrConnectionLost is returned (wrapped, with the cause) by calls
	// pending on a connection that died: closed by the peer, reset, or
	// found dead by heartbeats. The request may or may not have run.
	ErrConnectionLost = errors.New("rpc: connection lost")
	// ErrHeartbeatTimeout is the cause of ErrConnectionLost when the
	// server stopped answering heartbeats.
	ErrHeartbeatTimeout = errors.New("rpc: no heartbeat answer within HeartbeatTimeout")
	// ErrNoHandler matches (errors.Is) the *Error a client receives when
	// the server answered that no handler matches the pattern — a remote
	// answer, not a local failure — or, on NATS, when nobody is subscribed.
	ErrNoHandler = errors.New("rpc: no matching message handler")
	// ErrStreamOverflow ends a stream call whose consumer fell behind: the
	// values received and not yet taken exceeded the client's
	// [WithMaxStreamBuffer]. Later values of that reply are dropped; the
	// connection and other calls go on.
	ErrStreamOverflow = errors.New("rpc: stream consumer too slow: unread values over the client's buffer limit")
)

// errWriteCutShort is the cause of ErrConnectionLost for the calls of a
// connection failed because a request's write was cut short by its
// caller's context (the stream may end in the middle of a frame): that
// caller alone gets its context's error.
var errWriteCutShort = errors.New("rpc: a request's write was cut short by its caller's context")

// RemoteError is the error a client receives from a remote handler.
//
// Deprecated: it is [Error], the one type for both sides: what a handler
// returns to send an error is what the caller receives (its Payload is the
// "err" value exactly as received; the field was called Raw before).
type RemoteError = Error

// newRemoteError reads an "err" value; raw is copied.
func newRemoteError(raw, status []byte) *Error {
	e := &Error{Payload: append(json.RawMessage(nil), raw...), remote: true}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		e.Message = text
		if len(status) > 0 {
			var s string
			if json.Unmarshal(status, &s) == nil {
				e.Status = s
			}
		}
		return e
	}
	// A map, not a tagged struct: encoding/json matches struct fields
	// case-insensitively ("MESSAGE" would fill Message), where err.status
	// and err.message, as a NestJS client reads them, are exact names.
	var members map[string]json.RawMessage
	if json.Unmarshal(raw, &members) == nil {
		e.Status = jsonText(members["status"])
		e.Message = jsonText(members["message"])
	}
	return e
}

// jsonText renders a JSON scalar as text: strings unquoted, others as is.
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// connLost wraps a connection's cause of death.
func connLost(cause error) error {
	if cause == nil || errors.Is(cause, ErrConnectionLost) {
		return ErrConnectionLost
	}
	return fmt.Errorf("%w: %w", ErrConnectionLost, cause)
}
