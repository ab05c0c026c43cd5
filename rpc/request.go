package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one message being served: a request (it has an id and gets a
// reply) or an event (no id, no reply). Its raw members alias the frame they
// came in; they stay valid for as long as they are referenced.
type Request struct {
	// Pattern is the pattern as the caller sent it: a JSON string, number
	// or object, in the caller's key order.
	Pattern json.RawMessage
	// Route is the normalized route key the request was routed by: the
	// key under which its handler was registered.
	Route string
	// Data is the raw JSON payload ("null" when absent).
	Data json.RawMessage
	// ID is the raw JSON request id, echoed verbatim in the reply; nil for
	// an event.
	ID json.RawMessage

	metadataRaw []byte
	metadata    atomic.Pointer[map[string]string] // decoded on first use
	header      map[string][]string               // the transport's message headers (NATS), nil on TCP
	peer        *Peer                             // shared by a connection's requests
	rc          *requestContext                   // the request's serving state; nil for a Request built by hand
	decoder     Decoder                           // Config.Decoder, nil for encoding/json
	event       bool
}

// Header returns the headers of the transport message that carried the
// request (NATS headers, keys as sent: they are case-sensitive), or nil
// when the transport has none (TCP). Do not modify it.
func (r *Request) Header() map[string][]string { return r.header }

// IsEvent reports whether the message is an event: it has no id and gets no
// reply.
func (r *Request) IsEvent() bool { return r.event }

// TimedOut reports whether the caller got, or is getting, the timeout reply:
// the request's deadline passed before its reply was complete. A middleware
// asks it once its handler returned, to tell a request that failed by its
// deadline from one that answered in time and returned late (its reply
// stands). Always false for an event, and for a Request not being served by
// a Server.
func (r *Request) TimedOut() bool {
	rc := r.rc
	if rc == nil || r.event {
		return false
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	switch rc.state {
	case stateExpired:
		return true
	case stateDone:
		return false
	}
	// Running: the timer fires, or serve expires the reply once the
	// handler returns, by the same test.
	end := rc.end
	if end == 0 {
		end = monotime()
	}
	return rc.deadline != 0 && end > rc.deadline
}

// Answered reports whether the request's reply is already complete — a
// unary handler's value sent whole (the adapters Func, Typed and the like
// send it before they return) — so that nothing its handler or a
// middleware returns afterwards changes what the caller gets: the server
// drops such an error (no metric counts it). A middleware asks
// it once its handler returned. Always false for an event, for a reply
// still open (a stream's end is written after its handler returns), and
// for a Request not being served by a Server.
func (r *Request) Answered() bool {
	rc := r.rc
	if rc == nil || r.event {
		return false
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.state == stateDone
}

// Metadata returns the NestJS 12 request metadata (for example a W3C
// traceparent), or nil when the message carries none. It holds the string
// values; [Request.MetadataRaw] has every value, whatever its JSON type. The
// map is decoded on first use; do not modify it. Metadata longer than
// MaxMetadataBytes, or of more than MaxMetadataMembers members, is ignored
// (nil), as a peer could otherwise make every request's first call decode
// megabytes into a map.
func (r *Request) Metadata() map[string]string {
	if len(r.metadataRaw) == 0 || len(r.metadataRaw) > MaxMetadataBytes {
		return nil
	}
	if m := r.metadata.Load(); m != nil {
		return *m
	}
	all := r.MetadataRaw()
	if all == nil {
		var none map[string]string // decoded once, to nothing
		r.metadata.CompareAndSwap(nil, &none)
		return nil
	}
	md := make(map[string]string, len(all))
	for k, v := range all {
		var s string
		if json.Unmarshal(v, &s) == nil {
			md[k] = s
		}
	}
	// Racing first calls decode alike; the first stored wins.
	r.metadata.CompareAndSwap(nil, &md)
	return *r.metadata.Load()
}

// MetadataRaw returns every value of the NestJS 12 request metadata as raw
// JSON, whatever its type ({"n":1} gives "n" → 1), or nil when the message
// carries none (or more than MaxMetadataBytes or MaxMetadataMembers of
// it). It is decoded at
// each call.
func (r *Request) MetadataRaw() map[string]json.RawMessage {
	if len(r.metadataRaw) == 0 || len(r.metadataRaw) > MaxMetadataBytes {
		return nil
	}
	var all map[string]json.RawMessage
	if json.Unmarshal(r.metadataRaw, &all) != nil || len(all) > MaxMetadataMembers {
		return nil
	}
	return all
}

// RemoteAddr returns the address of the peer that sent the message, or nil
// when the transport has none.
func (r *Request) RemoteAddr() net.Addr {
	if r.peer == nil {
		return nil
	}
	return r.peer.addr
}

// Transport names the transport the message came by, such as "tcp".
func (r *Request) Transport() string {
	if r.peer == nil {
		return ""
	}
	return r.peer.transport
}

// MaxMetadataBytes bounds the request metadata that Metadata and
// MetadataRaw decode: 10 KiB of JSON, room for W3C trace context with a
// full baggage header (8 KiB by the W3C's own limit, 8192 bytes in
// OpenTelemetry), a traceparent, a tracestate of the 512 bytes W3C asks
// every vendor to pass on, and their JSON around them.
const MaxMetadataBytes = 10 << 10

// MaxMetadataMembers bounds the members of the request metadata that
// Metadata and MetadataRaw decode: decoded, a member costs far more than
// its JSON (8 KiB of {"0":"","1":"",…} held about 100 KB), and trace
// context needs three. Metadata with more is ignored (nil).
const MaxMetadataMembers = 64

type requestKey struct{}

// RequestFromContext returns the request a handler's context belongs to.
func RequestFromContext(ctx context.Context) (*Request, bool) {
	r, ok := ctx.Value(requestKey{}).(*Request)
	return r, ok
}

// requestContext is a handler's context: its parent (the connection's
// context, cancelled on disconnect and forced shutdown), the request's
// deadline, and the request itself as a value. It allocates the machinery
// of a real deadline — a timer — only when a handler asks for Done, so the
// many handlers that never wait on their context pay nothing for it.
type requestContext struct {
	parent   context.Context
	deadline int64 // monotime; 0 means none
	timeout  time.Duration
	start    int64 // monotime the request was read
	end      int64 // monotime the result was produced, 0 until then
	req      Request
	w        responder
	d        *dispatcher
	target   replyTarget

	mu    sync.Mutex // guards what follows, and orders the reply's frames
	state uint8
	ended endState // the context's error once fixed: first seen by Err, or at the handler's return
	// overran is set by the monitor when the handler keeps the reader past
	// its turn because MaxHandlers put its hand-off off: no reader flush is
	// coming, so its frames are written as they come.
	overran atomic.Bool
	slow    *slowState // made only for requests that wait or run long
	pin     *chunkPin  // the read chunk the request's slices are in, if charged; released as its handler ends
	// timer answers the request at its deadline once it outlived its turn
	// on the reader (armTimeout). Outside mu: the monitor arms it and must
	// never wait for a request's lock (a handler holds it while its reply
	// encodes). release swaps in releasedTimer, stopping any other.
	timer atomic.Pointer[time.Timer]
}

// releasedTimer marks the timer slot of a request whose handler returned:
// no timer may be armed after it. Never started, never stopped.
var releasedTimer = new(time.Timer)

// slowState is what only some requests need: a real context when the
// handler asks for Done, a timer when the request outlives its turn on the
// reader. Keeping it apart keeps every request's allocation small.
type slowState struct {
	lazy   context.Context
	cancel context.CancelFunc
}

// closedDone is the Done channel of a request whose handler returned
// before anyone asked for one.
var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (c *requestContext) slowLocked() *slowState {
	if c.slow == nil {
		c.slow = new(slowState)
	}
	return c.slow
}

func (c *requestContext) Deadline() (time.Time, bool) {
	if c.deadline == 0 {
		return time.Time{}, false
	}
	return monoTime(c.deadline), true
}

func (c *requestContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended != running && (c.slow == nil || c.slow.lazy == nil) {
		return closedDone // the handler returned: its request has ended
	}
	if c.slow == nil || c.slow.lazy == nil {
		if err := c.liveErr(); err != nil {
			// Ended already: context.WithDeadline would take the
			// parent's Canceled even past a deadline that came first.
			// Fixed here, as Err fixes it.
			c.ended = endStateOf(err)
			return closedDone
		}
	}
	sl := c.slowLocked()
	if sl.lazy == nil {
		if c.deadline == 0 {
			sl.lazy, sl.cancel = context.WithCancel(c.parent)
		} else {
			sl.lazy, sl.cancel = context.WithDeadline(c.parent, monoTime(c.deadline))
		}
	}
	return sl.lazy.Done()
}

func (c *requestContext) Err() error {
	c.mu.Lock()
	var lazy context.Context
	if c.slow != nil {
		lazy = c.slow.lazy
	}
	ended := c.ended
	c.mu.Unlock()
	switch {
	case lazy != nil:
		return lazy.Err()
	case ended != running:
		return ended.err()
	}
	err := c.liveErr()
	if err == nil {
		return nil
	}
	// A context's Err never changes once non-nil: the first one stays.
	c.mu.Lock()
	if c.slow != nil && c.slow.lazy != nil {
		// Done made the real context meanwhile: from now on Err is its.
		lazy = c.slow.lazy
		c.mu.Unlock()
		return lazy.Err()
	}
	if c.ended == running {
		c.ended = endStateOf(err)
	}
	ended = c.ended
	c.mu.Unlock()
	return ended.err()
}

func (c *requestContext) Value(key any) any {
	if key == (requestKey{}) {
		return &c.req
	}
	return c.parent.Value(key)
}

// liveErr is the error of a context not ended by its handler's return:
// its parent's, or its deadline's once passed. Whichever came first
// decides, as with context.WithDeadline: a parent found cancelled when the
// deadline has passed counts as cancelled after it (nothing tells when it
// was; release decides the same way).
func (c *requestContext) liveErr() error {
	if err := c.parent.Err(); err != nil {
		if c.deadline != 0 && monotime() >= c.deadline {
			return context.DeadlineExceeded
		}
		return err
	}
	if c.deadline != 0 && monotime() >= c.deadline {
		return context.DeadlineExceeded
	}
	return nil
}

// endState is the error a request's context was found to have, or ended
// with at its handler's return.
type endState uint8

const (
	running endState = iota
	endedCanceled
	endedDeadline
)

// endStateOf is the endState that records err, a context's error.
func endStateOf(err error) endState {
	if errors.Is(err, context.DeadlineExceeded) {
		return endedDeadline
	}
	return endedCanceled
}

func (e endState) err() error {
	if e == endedDeadline {
		return context.DeadlineExceeded
	}
	return context.Canceled
}

// release ends the context of a request whose handler returned at end
// (monotime), and stops its timer. Unless Err already gave one, the
// context's error is fixed then: the deadline's if it had passed, else
// Canceled.
func (c *requestContext) release(end int64) {
	c.mu.Lock()
	if c.ended == running {
		c.ended = endedCanceled
		if c.deadline != 0 && end > c.deadline {
			c.ended = endedDeadline
		}
	}
	if sl := c.slow; sl != nil && sl.cancel != nil {
		sl.cancel()
	}
	c.mu.Unlock()
	// armTimeout stores its timer only into an empty slot: either it comes
	// first and is stopped here, or it finds releasedTimer.
	if t := c.timer.Swap(releasedTimer); t != nil && t != releasedTimer {
		t.Stop()
	}
	if p := c.pin; p != nil { // serve calls release once, as the handler ends
		c.pin = nil
		p.release()
	}
}

// armTimeout starts the timer that answers the request with a timeout
// error at its deadline, even while its handler still runs. Only requests
// that outlive their turn on the reader get one (hand-off calls it): a
// timer per request would cost every fast request.
//
// It never takes the request's lock: the monitor calls it, and a handler
// holds that lock while it queues its reply. A timer armed for a
// request already answered only finds it so (expire checks the state).
func (c *requestContext) armTimeout() {
	if c.deadline == 0 || c.req.event || c.timer.Load() != nil {
		return
	}
	t := time.AfterFunc(time.Duration(c.deadline-monotime()), c.expire)
	if !c.timer.CompareAndSwap(nil, t) { // armed already, or released
		t.Stop()
	}
}

func (c *requestContext) expire() {
	c.mu.Lock()
	expired := c.state == stateRunning
	if expired {
		c.expireLocked()
	}
	c.mu.Unlock()
	if expired {
		// nil: flush now. While the handler runs inline the reader is
		// the one stuck in it, so commit(c) would leave the timeout
		// reply queued until the handler returned (the request may be
		// inline still when MaxHandlers put off its hand-off).
		c.target.commit(nil)
	}
}

// expireLocked completes the reply with a timeout error; the handler's
// result, when it comes, is dropped.
func (c *requestContext) expireLocked() {
	c.state = stateExpired
	c.d.stats.timeout.Add(1)
	var buf [64]byte
	c.target.writeError(c, appendTimeoutError(buf[:0], c.timeout))
}

// sleep waits d before a retry; it returns false, at once, if the wait
// would pass the request's deadline, and as soon as the context ends.
func (c *requestContext) sleep(d time.Duration) bool {
	if c.deadline != 0 && monotime()+int64(d) >= c.deadline {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.Done():
		return false
	}
}
