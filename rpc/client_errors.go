package rpc

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/msgpattern/msgpattern/wire"
)

// Local client errors: the call never got a reply from the remote handler.
// They are distinct from [*RemoteError], which the remote side chose.
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
	// ErrNoHandler matches (errors.Is) the *RemoteError a server sends when
	// no handler matches the pattern.
	ErrNoHandler = errors.New("rpc: no matching message handler")
)

// RemoteError is an error reply: the remote handler failed, or no handler
// matched. Raw is the "err" value exactly as sent; Status and Message are
// read from it when it has the usual {"status":…,"message":…} shape, or
// Message is the text when it is a string.
type RemoteError struct {
	Raw     json.RawMessage
	Status  string // "error" for RpcException("…"); the status field as text otherwise
	Message string

	undelivered bool // nobody received the request (NATS no responders): also ErrUnavailable
}

func (e *RemoteError) Error() string {
	if e.Message != "" {
		return "rpc: remote error: " + e.Message
	}
	return "rpc: remote error: " + string(e.Raw)
}

// Is makes errors.Is(err, ErrNoHandler) recognise the no-handler reply.
func (e *RemoteError) Is(target error) bool {
	return target == ErrNoHandler && e.Message == wire.NoHandlerMessage || target == ErrUnavailable && e.undelivered
}

// newRemoteError reads an "err" value; raw is copied.
func newRemoteError(raw, status []byte) *RemoteError {
	e := &RemoteError{Raw: append(json.RawMessage(nil), raw...)}
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
	var shape struct {
		Status  json.RawMessage `json:"status"`
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(raw, &shape) == nil {
		e.Status = jsonText(shape.Status)
		e.Message = jsonText(shape.Message)
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
