package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/msgpattern/msgpattern/pattern"
	"github.com/msgpattern/msgpattern/wire"
)

// CallOption adjusts one call.
type CallOption func(*callOptions)

type callOptions struct {
	metadata      map[string]any
	idempotent    bool
	streamFailure *error // StreamOf's: where it records a value that did not decode
}

// WithMetadata sends NestJS 12 request metadata (a string map, such as a W3C
// traceparent) with the call. Servers read it with Request.Metadata. It may
// be given several times, with WithMetadataValues too: the maps are merged.
func WithMetadata(md map[string]string) CallOption {
	return func(o *callOptions) {
		if o.metadata == nil {
			o.metadata = make(map[string]any, len(md))
		}
		for k, v := range md {
			o.metadata[k] = v
		}
	}
}

// WithMetadataValues sends metadata values of any JSON type ({"n": 1,
// "tags": […]}); servers read them with Request.MetadataRaw.
func WithMetadataValues(md map[string]any) CallOption {
	return func(o *callOptions) {
		if o.metadata == nil {
			o.metadata = make(map[string]any, len(md))
		}
		for k, v := range md {
			o.metadata[k] = v
		}
	}
}

// Idempotent marks a call that may safely run twice: when its connection
// fails before the reply, it is sent again on a new connection, up to 3
// times and while its context allows. A remote error is never retried.
func Idempotent() CallOption { return func(o *callOptions) { o.idempotent = true } }

// maxConnRetries bounds the resends of an idempotent call.
const maxConnRetries = 3

// Send calls pattern (a string, number or object, as for Server.Handle)
// with data encoded as JSON, waits for the reply to complete, and decodes
// its last value into out (which may be nil). A reply that completes with
// no value — a NestJS handler that returns undefined or EMPTY, or an event
// handler — is a success that leaves out as it was, where a NestJS
// ClientProxy's firstValueFrom and lastValueFrom reject with rxjs's
// EmptyError; a null value is decoded (it sets a pointer, slice or map to
// nil). To tell the two apart, pass a nil *json.RawMessage: it stays nil
// for no value and holds "null" for null. It returns as soon as ctx
// ends. The error is a *Error when the remote side answered with an
// error (errors.Is(err, ErrNoHandler) when no handler matched), and a local
// error otherwise: ErrConnectionLost, ErrClientClosed, a dial or encoding
// error, or ctx.Err() (only ever the error of this call's own context). A
// call whose request never left fails with an error matching
// ErrUnavailable: its dial failed (in a pool, other connections are tried
// first), or its connection died before the request was queued, as while
// it waited for room (WithMaxQueuedBytes; it is tried on a new connection
// first, idempotent or not).
func (c *Client) Send(ctx context.Context, pattern any, data any, out any, opts ...CallOption) error {
	start := monotime()
	err := c.sendDecode(ctx, pattern, data, out, opts)
	// Counted once decoded: a reply that does not decode fails the call
	// here, a local error.
	c.stats.observe(start, err, false)
	return err
}

func (c *Client) sendDecode(ctx context.Context, pattern any, data any, out any, opts []CallOption) error {
	raw, err := c.roundTrip(ctx, pattern, data, opts)
	if err != nil || out == nil || raw == nil {
		return err
	}
	if p, ok := out.(*json.RawMessage); ok {
		*p = raw
		return nil
	}
	if err := c.decode(raw, out); err != nil {
		return fmt.Errorf("rpc: decoding the reply to %v: %w", pattern, err)
	}
	return nil
}

// Call is Send with types: in is encoded, the reply decoded into a U.
func Call[T, U any](ctx context.Context, c Caller, pattern any, in T, opts ...CallOption) (U, error) {
	var out U
	err := c.Send(ctx, pattern, in, &out, opts...)
	return out, err
}

// Emit sends an event: pattern and data, no id, no reply. Alone on its
// connection it returns once the event is written (or failed to be): it
// writes the event itself, or, finding another goroutine writing, waits
// for that write to take it, and returns the write's error if it fails.
// With calls in flight it returns once the event is queued for the
// connection's writer, and a write failure after that ends the connection
// (its pending calls fail) rather than this Emit. An error means the event
// was not sent, with one exception: when ctx ends while the Emit waits for
// another goroutine's write, its event is taken back if nothing was queued
// after it, and may otherwise still go out. Like any call, it waits while
// WithMaxQueuedBytes is exceeded; an event that could not leave on its
// connection (a failed dial, or a connection that died first) is tried on
// another one, as a call is (see WithPool), and fails with an error
// matching ErrUnavailable when none takes it.
func (c *Client) Emit(ctx context.Context, pattern any, data any, opts ...CallOption) error {
	o := callOptionsOf(opts)
	start := monotime()
	// An Emit that fails before it is sent is counted too, as a call is
	// (an event, and a local error).
	if err := ctx.Err(); err != nil {
		c.stats.observe(start, err, true)
		return err
	}
	// The pattern goes on the wire as for a call (see AppendRequestPacket
	// for why not the route key, as NestJS 12's emit does).
	patternJSON, err := appendPatternValue(nil, pattern)
	if err != nil {
		c.stats.observe(start, err, true)
		return err
	}
	dataJSON, metaJSON, err := encodeCall(data, o.metadata)
	if err != nil {
		c.stats.observe(start, err, true)
		return err
	}
	for tries := 0; ; tries++ {
		cc, err := c.pick().get(ctx)
		dialFailed := err != nil
		if err == nil {
			err = cc.waitForRoom(ctx, len(patternJSON)+len(dataJSON)+len(metaJSON))
		}
		if err == nil {
			err = cc.send(ctx, patternJSON, json.RawMessage(dataJSON), metaJSON, 0, true)
		}
		retry, err := c.retryUnsent(ctx, err, dialFailed, tries)
		if !retry {
			c.stats.observe(start, err, true)
			return err
		}
	}
}

// Stream calls pattern and yields each value of the reply as it arrives (a
// NestJS Observable's values), then stops; an error ends the sequence. The
// request is sent when iteration starts; stopping early abandons the call.
// Values wait for the consumer up to WithMaxStreamBuffer; a consumer that
// falls further behind gets ErrStreamOverflow. Once ctx ends, the next step
// ends the sequence with ctx's error, whatever is still buffered. With
// [Idempotent], a stream whose connection fails before its first value is
// sent again on a new connection, as a Send is; after a value it is not.
// This is the client side; the server side of a streamed reply is the
// handler adapter [Stream] (rpc.Stream), and [StreamOf] decodes the values.
func (c *Client) Stream(ctx context.Context, pattern any, data any, opts ...CallOption) iter.Seq2[json.RawMessage, error] {
	return func(yield func(json.RawMessage, error) bool) {
		start := monotime()
		o := callOptionsOf(opts)
		for attempt := 0; ; attempt++ {
			cc, id, ca, err := c.start(ctx, pattern, data, o, true)
			if err != nil {
				c.stats.observe(start, err, false)
				yield(nil, err)
				return
			}
			yielded, lost, ended := c.streamValues(ctx, start, cc, id, ca, o.streamFailure, yield)
			if ended {
				return
			}
			// An idempotent stream whose connection died before any value
			// came is sent again on a new connection, as an idempotent
			// Send is (see Idempotent); once a value was yielded it is not:
			// its consumer would see values twice.
			if lost != nil && o.idempotent && !yielded && attempt < maxConnRetries &&
				ctx.Err() == nil && errors.Is(lost, ErrConnectionLost) {
				c.stats.retries.Add(1)
				continue
			}
			c.stats.observe(start, lost, false)
			if lost != nil {
				yield(nil, lost)
			}
			return
		}
	}
}

// streamValues yields the values of the stream call id until it ends. It
// returns ended once it has ended the sequence itself (and counted the
// call); otherwise the call completed (lost nil) or failed here with lost
// (a local error: its connection died, say), which it has not yielded.
// yielded says whether any value was yielded.
//
// failure, when not nil, is where StreamOf records a value that did not
// decode: a consumer that stops on it failed here, a local error.
func (c *Client) streamValues(ctx context.Context, start int64, cc *clientConn, id uint64, ca *call, failure *error, yield func(json.RawMessage, error) bool) (yielded bool, lost error, ended bool) {
	defer cc.forget(id)
	for {
		// One value at a time: a value counts against the stream
		// buffer until its consumer takes it.
		sh := cc.pending.shard(id)
		sh.mu.Lock()
		if len(ca.queue) > 0 {
			if err := ctx.Err(); err != nil {
				// Ended: what is buffered is not yielded, or a
				// producer that keeps the queue non-empty keeps the
				// call going past its context.
				sh.mu.Unlock()
				c.stats.observe(start, err, false)
				yield(nil, err)
				return yielded, nil, true
			}
			it := ca.queue[0]
			ca.queue[0] = callItem{}
			ca.queue = ca.queue[1:]
			ca.buffered -= queuedCost(it.value)
			sh.mu.Unlock()
			if it.err != nil {
				c.stats.observe(start, it.err, false)
				yield(nil, it.err)
				return yielded, nil, true
			}
			yielded = true
			if !yield(it.value, nil) {
				// Abandoned by its consumer, not failed; unless the value
				// did not decode (StreamOf).
				var err error
				if failure != nil {
					err = *failure
				}
				c.stats.observe(start, err, false)
				return yielded, nil, true
			}
			continue
		}
		final, ferr := ca.final, ca.err
		sh.mu.Unlock()
		if final {
			if ferr != nil && !isRemote(ferr) {
				return yielded, ferr, false
			}
			return yielded, nil, false
		}
		select {
		case <-ca.notify:
		case <-ctx.Done():
			c.stats.observe(start, ctx.Err(), false)
			yield(nil, ctx.Err())
			return yielded, nil, true
		}
	}
}

// StreamOf is Stream with the values decoded into U, by the Caller's
// decoder when it has one (a [*Client]'s [WithDecoder]), as [Call]
// decodes its reply, and by the built-in decoder otherwise. A Caller that
// wraps another (otelrpc.WrapCaller's) is looked through when it has an
// Unwrap() Caller method, as net/http's ResponseController looks through
// ResponseWriters.
func StreamOf[U any](ctx context.Context, c Caller, pattern any, data any, opts ...CallOption) iter.Seq2[U, error] {
	return func(yield func(U, error) bool) {
		dec := replyDecoderOf(c)
		// A wrapper (otelrpc's) learns from it that the stream it sees
		// abandoned failed here: a value did not decode.
		var failure error
		opts := append(opts[:len(opts):len(opts)], func(o *callOptions) { o.streamFailure = &failure })
		for raw, err := range c.Stream(ctx, pattern, data, opts...) {
			var v U
			if err == nil {
				if dec != nil {
					err = dec.decode(raw, &v)
				} else {
					err = unmarshal(nil, raw, &v)
				}
				failure = err
			}
			if !yield(v, err) || err != nil {
				return
			}
		}
	}
}

// replyDecoder is a Caller that decodes replies with a decoder of its own:
// a *Client given WithDecoder. StreamOf decodes with it.
type replyDecoder interface {
	decode(data []byte, v any) error
}

var _ replyDecoder = (*Client)(nil)

// replyDecoderOf finds the replyDecoder of c, or of the Caller it wraps.
func replyDecoderOf(c Caller) replyDecoder {
	for range 100 { // a wrapper that wraps itself must not hang us
		switch w := c.(type) {
		case replyDecoder:
			return w
		case interface{ Unwrap() Caller }:
			c = w.Unwrap()
		default:
			return nil
		}
	}
	return nil
}

// isRemote reports whether err is an error a remote side answered with: a
// received *Error, not one made here (returned by the data's MarshalJSON,
// say).
func isRemote(err error) bool {
	var re *Error
	return errors.As(err, &re) && re.remote
}

func callOptionsOf(opts []CallOption) callOptions {
	if len(opts) == 0 {
		return callOptions{} // &o below escapes: skip it in the common case
	}
	var o callOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// roundTrip sends one request and waits for its final reply, resending an
// idempotent call whose connection failed. Its caller (Send) counts the call.
func (c *Client) roundTrip(ctx context.Context, pattern any, data any, opts []CallOption) (json.RawMessage, error) {
	o := callOptionsOf(opts)
	for attempt := 0; ; attempt++ {
		raw, err := c.once(ctx, pattern, data, o)
		retry := o.idempotent && attempt < maxConnRetries && ctx.Err() == nil &&
			!isRemote(err) && (errors.Is(err, ErrConnectionLost) || isUnsent(err))
		if !retry {
			return raw, err
		}
		c.stats.retries.Add(1)
	}
}

func isUnsent(err error) bool {
	var ue *unsentError
	return errors.As(err, &ue)
}

func (c *Client) once(ctx context.Context, pattern any, data any, o callOptions) (json.RawMessage, error) {
	cc, id, ca, err := c.start(ctx, pattern, data, o, false)
	if err != nil {
		return nil, err
	}
	for {
		select {
		case <-ca.notify:
		case <-ctx.Done():
			cc.forget(id)
			putCall(ca)
			return nil, ctx.Err()
		}
		sh := cc.pending.shard(id)
		sh.mu.Lock()
		final, last, err := ca.final, ca.last, ca.err
		sh.mu.Unlock()
		if final {
			// Final means the reader removed the call: nobody else holds it.
			putCall(ca)
			return last, err
		}
	}
}

// calls recycles unary calls: a call is shared with the connection's reader
// only while it is pending, and leaves the pending table under its shard's
// lock, so once final or forgotten its fields are the caller's alone. Only
// its notify channel may still get the reader's wake-up (deliver signals
// after unlocking): a later use of the call takes it as the spurious
// wake-up every waiter allows for.
var calls = sync.Pool{New: func() any { return &call{notify: make(chan struct{}, 1)} }}

func getCall(stream bool) *call {
	if stream {
		return &call{stream: true, notify: make(chan struct{}, 1)}
	}
	return calls.Get().(*call)
}

func putCall(ca *call) {
	ca.reset()
	calls.Put(ca)
}

// reset makes a call that is no longer pending (final, forgotten or never
// registered) new.
func (ca *call) reset() {
	select { // drop a wake-up that came before now (one may still come: see calls)
	case <-ca.notify:
	default:
	}
	*ca = call{stream: ca.stream, notify: ca.notify}
}

// start encodes and sends a request and returns its pending call.
func (c *Client) start(ctx context.Context, pattern any, data any, o callOptions, stream bool) (*clientConn, uint64, *call, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, nil, err
	}
	var patternBuf [64]byte
	patternJSON, err := appendPatternValue(patternBuf[:0], pattern)
	if err != nil {
		return nil, 0, nil, err
	}
	metaJSON, err := encodeMetadata(o.metadata)
	if err != nil {
		return nil, 0, nil, err
	}
	// Encoded once, ahead (see clientConn.send): its length is what the
	// request adds to the connection's queue (waitForRoom).
	data, err = encodeAhead(data)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("rpc: encoding call data: %w", err)
	}
	defer releaseEncoded(data)
	size := len(patternJSON) + len(metaJSON) + encodedSize(data)
	ca := getCall(stream)
	for tries := 0; ; tries++ {
		cc, err := c.pick().get(ctx)
		dialFailed := err != nil
		var id uint64
		if err == nil {
			err = cc.waitForRoom(ctx, size)
		}
		if err == nil {
			if id, err = cc.register(ca); err == nil {
				if err = cc.sendCall(ctx, patternJSON, data, metaJSON, id); err == nil {
					return cc, id, ca, nil
				}
			}
		}
		retry, err := c.retryUnsent(ctx, err, dialFailed, tries)
		if !retry {
			return nil, 0, nil, err
		}
		ca.reset() // the dead connection may have failed it
	}
}

// retryUnsent decides on err, the failure of try number tries to send a
// request (a call's or an event's): dialFailed says that no connection
// could be had. A request that never left is tried again, whether or not
// it is idempotent: after a failed dial on another connection of a pool
// (the slot that failed now backs off), and after the connection died
// before it was queued (waiting for room, or refused by a writer that had
// failed) on a new one, up to maxConnRetries times. It returns the error
// for the caller otherwise: for a request that never left, one matching
// ErrUnavailable.
func (c *Client) retryUnsent(ctx context.Context, err error, dialFailed bool, tries int) (retry bool, _ error) {
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, ErrClientClosed) || ctx.Err() != nil:
		return false, err
	case dialFailed:
		if tries < maxConnRetries && len(c.slots) > 1 {
			return true, nil
		}
		return false, &unsentError{err}
	case isUnsent(err):
		return tries < maxConnRetries, err
	}
	return false, err
}

// sendCall sends the request of the registered call id. A call whose
// request did not leave, by an error or by a panic (its data's
// MarshalJSON), is forgotten: it would stay pending and count in flight.
func (cc *clientConn) sendCall(ctx context.Context, pattern []byte, data any, metadata []byte, id uint64) error {
	sent := false
	defer func() {
		if !sent {
			cc.forget(id)
		}
	}()
	err := cc.send(ctx, pattern, data, metadata, id, false)
	sent = err == nil
	return err
}

// encodedSize is about how long data, as encodeAhead returned it, is in
// JSON: exact for a value encoded ahead, a lower bound for the others.
func encodedSize(data any) int {
	switch v := data.(type) {
	case encodedValue:
		return len(v.buf.b)
	case string:
		return len(v) + 2
	case json.RawMessage:
		return len(v)
	case []byte:
		return (len(v)+2)/3*4 + 2
	}
	return 0
}

// unsentError marks a call that failed before its request left (a failed
// dial, a connection that died before the request was queued): it
// matches ErrUnavailable.
type unsentError struct{ err error }

func (e *unsentError) Error() string        { return e.err.Error() }
func (e *unsentError) Unwrap() error        { return e.err }
func (e *unsentError) Is(target error) bool { return target == ErrUnavailable }

// notSent marks err, the failure of a request that never left its
// connection, as an unsentError; nil and ErrClientClosed are left as they
// are.
func notSent(err error) error {
	if err == nil || errors.Is(err, ErrClientClosed) {
		return err
	}
	return &unsentError{err}
}

// appendPatternValue appends the pattern as a NestJS ClientProxy's send
// puts it on the wire: a string or number as JSON, an object as the caller
// built it.
func appendPatternValue(dst []byte, p any) ([]byte, error) {
	switch v := p.(type) {
	case string:
		if v == "" {
			return nil, fmt.Errorf("rpc: empty pattern")
		}
		return wire.AppendString(dst, v), nil
	case json.RawMessage:
		if _, err := pattern.Of(v); err != nil {
			return nil, err
		}
		// Compacted, and invalid UTF-8 replaced as Node decodes it: the
		// frame's length counts the text the peer reads.
		return wire.AppendJSON(dst, v)
	}
	if _, err := pattern.Of(p); err != nil {
		return nil, err
	}
	return wire.AppendJSON(dst, p)
}

func encodeMetadata(md map[string]any) ([]byte, error) {
	if md == nil {
		return nil, nil
	}
	return wire.AppendJSON(nil, md)
}

func encodeCall(data any, md map[string]any) (dataJSON, metaJSON []byte, err error) {
	dataJSON, err = wire.AppendJSON(nil, data)
	if err != nil {
		return nil, nil, fmt.Errorf("rpc: encoding call data: %w", err)
	}
	if metaJSON, err = encodeMetadata(md); err != nil {
		return nil, nil, err
	}
	return dataJSON, metaJSON, nil
}
