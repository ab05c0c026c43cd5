package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// replyTarget is a transport's side of one request's reply: where the
// dispatch core puts the frames. The TCP connection implements it; so can
// any other transport.
type replyTarget interface {
	// writeValue sends v as a value of rc's reply that is not (yet) the
	// last. The returned mark lets writeEnd merge the completion into it.
	writeValue(rc *requestContext, v any) (replyMark, error)
	// writeLast sends v as the last value of rc's reply, completing it.
	writeLast(rc *requestContext, v any) error
	// writeEnd completes rc's reply, riding on the value at last when that
	// frame has not left yet.
	writeEnd(rc *requestContext, last replyMark)
	// writeError ends rc's reply with the JSON error value err.
	writeError(rc *requestContext, err []byte)
}

// replyMark identifies a value frame still waiting in a write buffer.
type replyMark struct {
	gen        uint64 // which buffer
	start, end int    // where in it; end == 0 means no frame
}

// dispatcher runs handlers: the transport-independent core of serving.
type dispatcher struct {
	router  *Router
	timeout time.Duration
	expose  bool
	log     *slog.Logger
	limit   *logLimiter
	stats   *counters
}

// responder is the ResponseWriter handed to handlers.
type responder struct {
	rc       *requestContext
	t        replyTarget
	last     replyMark
	complete bool // the reply's last frame is written
}

// errSendAfterReturn is returned by Send once the handler has returned.
var errSendAfterReturn = errors.New("rpc: Send called after the handler returned")

func (w *responder) Send(v any) error {
	if w.t == nil || w.complete {
		return errSendAfterReturn
	}
	if w.rc.req.event {
		return nil
	}
	m, err := w.t.writeValue(w.rc, v)
	if err != nil {
		return &encodeError{err}
	}
	w.last = m
	return nil
}

// sendLast sends v as the whole reply: {"response":v,"isDisposed":true}.
// The unary adapters use it so that a reply is one frame even when the
// handler was handed off and its frames are flushed as they come.
func (w *responder) sendLast(v any) error {
	if w.t == nil {
		return errSendAfterReturn
	}
	if w.rc.req.event {
		return nil
	}
	if err := w.t.writeLast(w.rc, v); err != nil {
		return &encodeError{err}
	}
	w.complete = true
	return nil
}

// sendUnary sends a unary handler's result, in one frame when w is the
// server's own writer.
func sendUnary(w ResponseWriter, v any) error {
	if r, ok := w.(*responder); ok && !r.complete && r.last.end == 0 {
		return r.sendLast(v)
	}
	return w.Send(v)
}

// encodeError marks a result that could not be encoded.
type encodeError struct{ err error }

func (e *encodeError) Error() string { return "rpc: encoding reply: " + e.err.Error() }
func (e *encodeError) Unwrap() error { return e.err }

// panicError carries a recovered panic.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("rpc: handler panic: %v", e.value) }

// serve runs rt's handler for rc and completes the reply through t.
func (d *dispatcher) serve(rc *requestContext, rt *route, t replyTarget) {
	start := monotime()
	if d.timeout > 0 {
		rc.deadline = start + int64(d.timeout)
	}
	rc.w = responder{rc: rc, t: t}
	err := d.call(rt.handler, rc)
	rc.w.t = nil
	rc.release()
	if err == nil && (rc.req.event || rc.w.complete) {
		// nothing more to send
	} else if err == nil {
		t.writeEnd(rc, rc.w.last)
	} else {
		var buf [128]byte
		errJSON, kind := d.errorValue(buf[:0], rc, err)
		d.stats.countError(kind)
		if !rc.req.event {
			t.writeError(rc, errJSON)
		}
	}
	elapsed := time.Duration(monotime() - start)
	if rc.req.event {
		d.stats.events.Add(1)
	} else {
		d.stats.requests.Add(1)
	}
	d.stats.processingNanos.Add(int64(elapsed))
	rt.stats.observe(elapsed, err != nil)
}

// call runs h, turning a panic into an error.
func (d *dispatcher) call(h Handler, rc *requestContext) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &panicError{value: p, stack: debug.Stack()}
		}
	}()
	return h.ServeMessage(rc, &rc.w, &rc.req)
}

// errorValue chooses what the caller sees for err, logs what it must, and
// classifies err for the metrics.
func (d *dispatcher) errorValue(dst []byte, rc *requestContext, err error) ([]byte, errorKind) {
	var (
		rpcErr *Error
		decErr *decodeError
		encErr *encodeError
		pe     *panicError
	)
	switch {
	case errors.As(err, &rpcErr):
		return rpcErr.appendValue(dst), kindRPC
	case errors.As(err, &decErr):
		return appendStatusError(dst, decErr.Error()), kindDecode
	case errors.As(err, &pe):
		d.limit.log(d.log, slog.LevelError, "handler panic",
			"pattern", rc.req.Route, "panic", fmt.Sprint(pe.value), "stack", string(pe.stack))
		return appendStatusError(dst, internalErrorMessage), kindPanic
	case errors.As(err, &encErr):
		d.limit.log(d.log, slog.LevelError, "reply does not encode", "pattern", rc.req.Route, "err", err)
		return appendStatusError(dst, internalErrorMessage), kindEncode
	case errors.Is(err, context.DeadlineExceeded) && rc.Err() != nil:
		return appendStatusError(dst, fmt.Sprintf("Request timed out after %v", d.timeout)), kindCanceled
	case errors.Is(err, context.Canceled) && rc.Err() != nil:
		return appendStatusError(dst, "Request cancelled"), kindCanceled
	}
	level := slog.LevelError
	if rc.req.event {
		level = slog.LevelWarn
	}
	d.limit.log(d.log, level, "handler error", "pattern", rc.req.Route, "err", err)
	if d.expose {
		return appendStatusError(dst, err.Error()), kindHandler
	}
	return appendStatusError(dst, internalErrorMessage), kindHandler
}

// appendMissingPattern is the error sent for a request without a pattern.
func appendMissingPattern(dst []byte) []byte {
	return appendStatusError(dst, "rpc: the request has no pattern")
}
