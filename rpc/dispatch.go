package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/msgpattern/msgpattern/wire"
)

// replyTarget is a transport's side of one request's reply: where the
// dispatch core puts the frames. The TCP connection implements it; so can
// any other transport. The core serialises the write calls for one request
// under the request's lock, so they must only queue frames, never block on
// the network; commit, called with no lock held, sends them.
type replyTarget interface {
	// writeValue sends v, which encodeAhead returned (its encoding runs no
	// application code), as a value of rc's reply that is not (yet) the
	// last. The returned mark lets writeEnd merge the completion into it.
	writeValue(rc *requestContext, v any) (replyMark, error)
	// writeLast sends v as the last value of rc's reply, completing it.
	writeLast(rc *requestContext, v any) error
	// writeEnd completes rc's reply, riding on the value at last when that
	// frame has not left yet.
	writeEnd(rc *requestContext, last replyMark)
	// writeError ends rc's reply with the JSON error value err.
	writeError(rc *requestContext, err []byte)
	// commit sends what rc's reply has queued, or leaves it to a flush the
	// transport knows is coming. It may block on the network; no lock is
	// held. rc is nil after writePacket outside a request.
	commit(rc *requestContext)
	// writePacket queues a packet the core builds outside any request (a
	// refusal: no pattern, rate limited, no handler), framed f.
	writePacket(build func(dst []byte, f wire.Framing) []byte)
	// replyFraming is how the transport frames packets.
	replyFraming() wire.Framing
	// awaitRoom holds a stream's handler, after commit, while its peer has
	// too much to read: a stream does not outrun a peer that reads. It
	// returns ErrCallerGone or ErrReplyClosed when the wait ends otherwise.
	awaitRoom(rc *requestContext) error
}

// replyMark identifies a value frame still waiting in a write buffer.
type replyMark struct {
	gen        uint64 // which buffer
	start, end int    // where in it; end == 0 means no frame
}

// Request states, guarded by requestContext.mu. A request's reply is
// completed exactly once: by the handler's result, or by the timeout.
const (
	stateRunning uint8 = iota
	stateDone          // the reply is complete
	stateExpired       // the timeout reply went out; the handler's result is dropped
)

// dispatcher runs handlers: the transport-independent core of serving.
type dispatcher struct {
	router     *Router
	timeout    time.Duration
	retries    int // attempts after the first; 0 disables
	retryDelay time.Duration
	expose     bool
	log        *slog.Logger
	limit      *logLimiter
	stats      *counters
	// noMetrics skips the per-request counters and latency histograms;
	// only the metrics-overhead benchmark sets it.
	noMetrics bool
	// shuttingDown reports whether the server is being shut down; nil for
	// a transport that has no such state.
	shuttingDown func() bool
	// forced reports whether the server is being closed at once (Close,
	// or Shutdown's context ended); nil for a transport that has no such
	// state.
	forced func() bool
}

// cutShort reports whether the request's context was cancelled by
// something other than a peer that may still read (a TCP half-close): a
// forced Shutdown, or, on a transport publishing through Dispatch, the
// transport's own ending or a failed write.
func (c *requestContext) cutShort() bool {
	if !errors.Is(c.Err(), context.Canceled) {
		return false
	}
	if _, ok := c.target.(*packetTarget); ok {
		return true
	}
	return c.d != nil && c.d.forced != nil && c.d.forced()
}

// sendAfterReturnError is errSendAfterReturn: its own text, and an
// ErrReplyClosed to errors.Is.
type sendAfterReturnError struct{}

func (sendAfterReturnError) Error() string        { return "rpc: Send called after the handler returned" }
func (sendAfterReturnError) Is(target error) bool { return target == ErrReplyClosed }

// responder is the ResponseWriter handed to handlers.
type responder struct {
	rc       *requestContext
	last     replyMark
	sent     bool // a value went out: the reply can no longer be retried
	returned bool // the handler returned; under rc.mu
}

var (
	// errSendAfterReturn: the reply is complete once the handler returned,
	// so it is an ErrReplyClosed, as that error's documentation says.
	errSendAfterReturn error = sendAfterReturnError{}
	// ErrCallerGone is returned by ResponseWriter.Send when the caller's
	// connection has closed (or was dropped for not reading): nothing more
	// reaches it. It is a context.Canceled, as the request's context is.
	ErrCallerGone = fmt.Errorf("rpc: the caller's connection is closed: %w", context.Canceled)
	// ErrReplyClosed is returned by ResponseWriter.Send when the reply is
	// already complete, typically because the request timed out.
	ErrReplyClosed = errors.New("rpc: reply already complete (request timed out)")
)

func (w *responder) Send(v any) error {
	rc := w.rc
	if rc.req.event {
		return w.sendToNobody()
	}
	v, err := encodeAhead(v)
	if err != nil {
		return &encodeError{err}
	}
	defer releaseEncoded(v)
	var m replyMark
	for {
		rc.mu.Lock()
		if w.returned { // under the lock: Send may come from another goroutine
			rc.mu.Unlock()
			return errSendAfterReturn
		}
		if rc.state != stateRunning {
			rc.mu.Unlock()
			return ErrReplyClosed
		}
		if rc.deadline != 0 && monotime() >= rc.deadline {
			// Past the deadline (the context says so already), before the
			// timer's timeout reply: the value is late, and dropped, as
			// sendLast drops a unary result; the caller gets the timeout.
			rc.expireLocked()
			rc.mu.Unlock()
			rc.target.commit(rc)
			return ErrReplyClosed
		}
		m, err = rc.target.writeValue(rc, v)
		if err != errNoRoom {
			break
		}
		// Too much queued for the peer: wait for room, then try again.
		rc.mu.Unlock()
		if err := rc.target.awaitRoom(rc); err != nil {
			return err
		}
	}
	if err == nil {
		w.last, w.sent = m, true
	}
	rc.mu.Unlock()
	if err == ErrCallerGone {
		return err
	}
	if err != nil {
		return &encodeError{err}
	}
	rc.target.commit(rc)
	return rc.target.awaitRoom(rc)
}

// sendToNobody is Send for an event: nothing goes out, but a stream handler
// reached by an event (any peer may leave out the id) must still stop: it
// is told when the handler returned or its context ended (Timeout, a forced
// Shutdown), as a request's Send is.
func (w *responder) sendToNobody() error {
	rc := w.rc
	rc.mu.Lock()
	returned := w.returned
	rc.mu.Unlock()
	if returned {
		return errSendAfterReturn
	}
	if err := rc.Err(); err != nil {
		return err
	}
	return nil
}

// sendLast sends v as the whole reply: {"response":v,"isDisposed":true}.
// The unary adapters use it so that a reply is one frame even when the
// handler was handed off and its frames are flushed as they come.
func (w *responder) sendLast(v any) error {
	rc := w.rc
	if rc.req.event {
		return nil
	}
	v, err := encodeAhead(v)
	if err != nil {
		return &encodeError{err}
	}
	defer releaseEncoded(v)
	rc.mu.Lock()
	if w.returned {
		rc.mu.Unlock()
		return errSendAfterReturn
	}
	if rc.state != stateRunning {
		rc.mu.Unlock()
		return ErrReplyClosed
	}
	rc.end = monotime()
	if rc.deadline != 0 && rc.end > rc.deadline {
		rc.expireLocked() // serve counts the dropped result, seeing stateExpired
		rc.mu.Unlock()
		rc.target.commit(rc)
		return nil
	}
	err = rc.target.writeLast(rc, v)
	if err == nil {
		rc.state = stateDone
		w.sent = true
	}
	rc.mu.Unlock()
	if err != nil {
		return &encodeError{err}
	}
	rc.target.commit(rc)
	return nil
}

// sendUnary sends a unary handler's result, in one frame when w is the
// server's own writer.
func sendUnary(w ResponseWriter, v any) error {
	if r, ok := w.(*responder); ok && !r.sent {
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

// prepare readies rc to be served by rt's handler, replying through t.
// start is the monotime the request was read. A transport calls it before
// it publishes rc to other goroutines (the hand-off monitor reads it).
func (d *dispatcher) prepare(rc *requestContext, rt *route, t replyTarget, start int64) {
	rc.d, rc.target, rc.start = d, t, start
	rc.req.rc = rc
	rc.timeout = d.timeout
	if rt.opts.timeoutSet {
		rc.timeout = rt.opts.timeout
	}
	// A timeout too long to add to the clock (time.Duration(math.MaxInt64),
	// "forever") is no deadline: the sum would wrap to one already passed.
	if rc.timeout > 0 && int64(rc.timeout) <= math.MaxInt64-start {
		rc.deadline = start + int64(rc.timeout)
	}
	rc.w = responder{rc: rc}
}

// serve runs rt's handler for rc, retrying as configured, and completes the
// reply.
func (d *dispatcher) serve(rc *requestContext, rt *route) {
	var err error
	tooLarge := false
	w := &rc.w
	// A handler that calls runtime.Goexit (t.FailNow, a helper's) neither
	// returns nor panics: its request is completed all the same, answered
	// as a panic is, so that it does not hold its place for good.
	goexit := true
	defer func() {
		if !goexit {
			return
		}
		if p := recover(); p != nil {
			panic(p) // not a Goexit: ours, which must not be hidden
		}
		d.complete(rc, rt, w, &panicError{value: "handler called runtime.Goexit", stack: debug.Stack()}, false)
	}()
	if max := rt.opts.maxData; max > 0 && len(rc.req.Data) > max {
		tooLarge = true // a bound, not a handler's choice: counted apart
		err = &Error{Status: "error", Message: fmt.Sprintf("Data too large (%d bytes; at most %d)", len(rc.req.Data), max)}
	} else {
		for attempt := 0; ; attempt++ {
			err = d.call(rt.handler, rc, w)
			if !d.retryable(err, rt, rc, attempt) {
				break
			}
			// The failed attempt returned: its writer is closed, as after
			// the last, so that nothing it left running sends into the
			// retried reply. Whether it sent anything is read under the
			// lock too: such a send may just have gone out. The next
			// attempt gets a writer of its own; only retries pay for it.
			rc.mu.Lock()
			w.returned = true
			sent := w.sent
			rc.mu.Unlock()
			if sent || !rc.sleep(d.backoff(attempt)) {
				break
			}
			d.stats.retries.Add(1)
			w = &responder{rc: rc}
		}
	}
	goexit = false
	d.complete(rc, rt, w, err, tooLarge)
}

// complete ends rc's reply once rt's handler returned err, having sent
// through w, and counts it.
func (d *dispatcher) complete(rc *requestContext, rt *route, w *responder, err error, tooLarge bool) {
	t, start := rc.target, rc.start
	if w != &rc.w {
		// A retry's writer: closed now (the handler returned), and what
		// it sent is what completes the reply.
		rc.mu.Lock()
		w.returned = true
		rc.w.last, rc.w.sent = w.last, w.sent
		rc.mu.Unlock()
	}
	var (
		errJSON []byte
		kind    errorKind
	)
	// Before the context ends with the handler's return (release), so that
	// a handler's own sub-deadline is not taken for the request's; and
	// before locking: errorValue consults the context, which locks.
	if err != nil {
		errJSON, kind = d.errorValue(make([]byte, 0, 128), rc, err)
		if tooLarge {
			kind = kindDataTooLarge
		} else if (kind == kindRPC || kind == kindDecode) && rc.req.event {
			// An *Error, or data that did not decode, is what a request's
			// caller sees, so errorValue does not log it; an event's
			// reaches nobody: logged, as an event handler's every other
			// error is.
			d.limit.log(d.log, slog.LevelWarn, "handler error", "pattern", rc.req.Route, "err", errText(err))
		}
	}
	rc.mu.Lock()
	rc.w.returned = true
	end := rc.end
	rc.mu.Unlock()
	if end == 0 {
		end = monotime()
	}
	rc.release(end)

	rc.mu.Lock()
	// A reply already complete (a unary adapter's value) stands: an error
	// returned after it (a middleware's) reaches nobody and counts nowhere.
	answered := rc.state == stateDone
	switch {
	case rc.state == stateExpired:
		if producedResult(err) {
			d.stats.lateDropped.Add(1)
		}
	case rc.state == stateDone:
	case rc.deadline != 0 && end > rc.deadline && !rc.req.event:
		rc.expireLocked()
		if producedResult(err) {
			d.stats.lateDropped.Add(1)
		}
	case err == nil:
		if !rc.req.event {
			t.writeEnd(rc, rc.w.last)
		}
		rc.state = stateDone
	default:
		d.stats.countError(kind)
		if !rc.req.event {
			t.writeError(rc, errJSON)
		}
		rc.state = stateDone
	}
	// The caller got an error when its request timed out, whatever the
	// handler returned: the pattern counts one.
	failed := err != nil && !answered || rc.state == stateExpired
	rc.mu.Unlock()
	if !rc.req.event {
		t.commit(rc)
	}

	if d.noMetrics {
		return
	}
	elapsed := time.Duration(end - start)
	// A transport's row first, the totals after, as GetMetrics reads them
	// the other way round: TCP's row, what the others leave of the totals,
	// then never counts another transport's message (transportsSnapshot).
	if ts := rc.req.peer.statsOf(); ts != nil {
		if rc.req.event {
			ts.events.Add(1)
		} else {
			ts.requests.Add(1)
		}
	}
	if rc.req.event {
		d.stats.events.Add(1)
	} else {
		d.stats.requests.Add(1)
	}
	d.stats.processingNanos.Add(int64(elapsed))
	rt.stats.observe(elapsed, failed)
}

// producedResult reports whether a handler that returned err after its
// timeout reply had a result to drop: a value or an error of its own, not
// its context's ending (a handler giving up produced nothing). Whichever of
// the timeout timer and the handler's return comes first, the same return
// is counted the same way. It runs under the request's lock and outside
// the handler's recover: an error whose Is or Unwrap panics (a typed nil's)
// counts as a result, rather than take the process down.
func producedResult(err error) bool {
	return examining(true, func() bool {
		return err == nil || !(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled))
	})
}

// call runs h, turning a panic into an error.
func (d *dispatcher) call(h Handler, rc *requestContext, w *responder) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &panicError{value: p, stack: debug.Stack()}
		}
	}()
	return h.ServeMessage(rc, w, &rc.req)
}

// retryable reports whether err, from attempt number attempt, deserves
// another attempt: only an error that says the work did not happen or may
// be repeated (IsTransient: rpc.Transient, or a client's ErrUnavailable) —
// never a plain error, a remote error or a lost connection mid-call — and
// only while the handler may be retried and the context lives (serve
// checks, under the lock, that nothing was sent). So no retry ever repeats
// a reply, and work that is not idempotent runs once unless its author
// says otherwise.
func (d *dispatcher) retryable(err error, rt *route, rc *requestContext, attempt int) bool {
	if err == nil || attempt >= d.retries || rt.opts.noRetry {
		return false
	}
	return transientNow(err) && rc.Err() == nil
}

// transientNow reports whether err is transient and not the end of the
// request's context. err's methods (Is, As, Unwrap) are the application's:
// one that panics (a typed-nil error's) makes it not transient, and
// errorValue answers it.
func transientNow(err error) bool {
	return examining(false, func() bool {
		var pe *panicError
		return IsTransient(err) && !errors.As(err, &pe) && !errors.Is(err, context.Canceled) &&
			!errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrReplyClosed)
	})
}

// examining runs f, which calls the methods of an application's error
// (Error, Is, As, Unwrap) outside the handler's recover: one that panics,
// as a typed nil's may, gives fallback rather than take the process down.
// (errorValue, which also logs such a panic, recovers on its own.)
func examining[T any](fallback T, f func() T) (v T) {
	defer func() {
		if recover() != nil {
			v = fallback
		}
	}()
	return f()
}

// backoff is the delay before retry attempt+1: RetryDelay doubled each
// time, with ±20% jitter so that failing callers do not retry in step. A
// RetryDelay of zero or less (after defaults: a negative one) retries at
// once; the doubling stops short of overflowing.
func (d *dispatcher) backoff(attempt int) time.Duration {
	base := d.retryDelay
	if base <= 0 {
		return 0
	}
	for i := 0; i < min(attempt, 16) && base <= math.MaxInt64/4; i++ {
		base <<= 1
	}
	jitter := time.Duration(rand.Int64N(int64(base)/5*2+1)) - base/5
	if jitter > math.MaxInt64-base {
		return math.MaxInt64 // a RetryDelay near the largest Duration
	}
	return base + jitter
}

// errorValue chooses what the caller sees for err, logs what it must, and
// classifies err for the metrics. err's methods (Error, Is, As, Unwrap) are
// the application's: one that panics, as a typed-nil error's may, is
// answered as a handler's panic is, not let take the process down (this
// runs outside the handler's recover).
func (d *dispatcher) errorValue(dst []byte, rc *requestContext, err error) (out []byte, kind errorKind) {
	start := len(dst)
	defer func() {
		if p := recover(); p != nil {
			d.limit.log(d.log, slog.LevelError, "handler's error panicked when examined",
				"pattern", rc.req.Route, "panic", fmt.Sprint(p), "type", fmt.Sprintf("%T", err), "stack", string(debug.Stack()))
			out, kind = appendStatusError(dst[:start], internalErrorMessage), kindPanic
		}
	}()
	return d.chooseErrorValue(dst, rc, err)
}

func (d *dispatcher) chooseErrorValue(dst []byte, rc *requestContext, err error) ([]byte, errorKind) {
	var (
		rpcErr *Error
		decErr *decodeError
		encErr *encodeError
		pe     *panicError
	)
	switch {
	case errors.As(err, &rpcErr) && rpcErr.remote && errors.Is(rpcErr, ErrNoHandler):
		// A downstream "no handler" must not look like this server's own.
		d.limit.log(d.log, slog.LevelError, "handler forwarded a downstream no-handler error", "pattern", rc.req.Route, "err", err)
		return appendStatusError(dst, internalErrorMessage), kindHandler
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
		return appendTimeoutError(dst, rc.timeout), kindTimeout
	case (errors.Is(err, context.Canceled) || errors.Is(err, ErrReplyClosed)) && rc.Err() != nil,
		errors.Is(err, ErrCallerGone): // also in the moment before the connection's context ends
		if d.cutByShutdown(rc) {
			return appendStatusError(dst, "Server shutting down"), kindShuttingDown
		}
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

// cutByShutdown reports whether a cancelled handler was cut off by the
// server's shutdown rather than by its caller leaving: over TCP only a
// forced one cancels handlers (a graceful Shutdown lets them finish, so a
// cancellation then is the peer's disconnect); a transport publishing
// through Dispatch has no half-close, and its ending is the shutdown's.
func (d *dispatcher) cutByShutdown(rc *requestContext) bool {
	if !d.shuttingDown() {
		return false
	}
	if _, ok := rc.target.(*packetTarget); ok {
		return true
	}
	return d.forced != nil && d.forced()
}

// errText is err's text, or a note when its Error method panics (the
// application's error type, outside the handler's recover).
func errText(err error) string {
	return examining("(its Error method panicked)", err.Error)
}

func appendTimeoutError(dst []byte, timeout time.Duration) []byte {
	return appendStatusError(dst, "Request timed out after "+timeout.String())
}

// appendMissingPattern is the error sent for a request without a pattern.
func appendMissingPattern(dst []byte) []byte {
	return appendStatusError(dst, "rpc: the request has no pattern")
}
