package rpc

import "errors"

// ErrUnavailable matches (errors.Is) a client's failures that prove the
// request never reached a handler: the dial failed, no connection could be
// had, the connection died before the request was queued on it (and no
// other took it), or, on NATS, nobody was subscribed ("no responders").
// Such a call may be retried whether or not it is idempotent, and the
// server's retries (Config.RetryAttempts) retry a handler that returns one.
var ErrUnavailable = errors.New("rpc: unavailable (the request was not delivered)")

// Transient marks err as safe to retry: the work did not happen, or may be
// repeated. A handler returns Transient(err) to have the server run it again
// (Config.RetryAttempts, RetryDelay) when nothing of its reply was sent; the
// caller sees err's handling if the retries are exhausted (for a plain
// error, "Internal server error"). Transient(nil) is nil.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &transientError{err}
}

type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// IsTransient reports whether err says the work did not happen or may be
// repeated: marked with Transient, or a client's ErrUnavailable.
func IsTransient(err error) bool {
	var te *transientError
	return errors.As(err, &te) || errors.Is(err, ErrUnavailable)
}
