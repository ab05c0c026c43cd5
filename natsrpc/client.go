package natsrpc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/rpc"
	"github.com/msgpattern/msgpattern/wire"
)

// Client calls message patterns over NATS: msgpattern servers behind
// [Serve] and NestJS NATS microservices alike. It implements [rpc.Caller],
// so rpc.Call and rpc.StreamOf work with it as with the TCP client, with
// the same errors: a *rpc.Error for an error reply, errors.Is(err,
// rpc.ErrNoHandler) when nobody serves the pattern (NATS's "no responders",
// at once), ctx.Err() when the context ends, rpc.ErrConnectionLost when the
// NATS connection closes, rpc.ErrClientClosed after Close (Emit and Flush
// included), rpc.ErrStreamOverflow for a stream whose consumer fell behind
// ([WithMaxStreamBuffer]), an error wrapping nats.ErrSlowConsumer for the
// calls pending when the client fell so far behind that its inbox dropped
// messages (over 64 MiB, or about 14,500 messages, queued undelivered: any
// of those calls may have lost its reply or a stream value), and an error
// wrapping nats.ErrBadSubject for a route key too long for a NATS subject.
// A reply with an empty body is an *rpc.Error (see "Plain NATS peers" in
// the package doc).
//
// Calls share one wildcard inbox subscription; each call's reply subject
// is that inbox plus a random token of its own, so a stream's values reach
// it as they come, and no responder can answer another's calls. A call whose context has no deadline gets the client's default
// timeout ([WithCallTimeout], 30s): over NATS an instance that dies holding
// a request says nothing, and only a deadline ends the wait.
type Client struct {
	nc      *nats.Conn
	owned   bool
	inbox   string // "<inbox>." ; replies come to inbox + token
	sub     *nats.Subscription
	timeout time.Duration

	maxStreamBuffer int

	mu      sync.Mutex
	pending map[string]*call
	closed  bool
	dropped int // the inbox's dropped messages already answered by failing the calls pending
	// subGone is closed once the inbox subscription has ended (by Close or
	// with the connection) and the calls pending then have failed.
	subGone     chan struct{}
	subGoneOnce sync.Once
	publishing  chan struct{} // a slot per request being published (maxPublishing)
}

var _ rpc.Caller = (*Client)(nil)

// call is one pending request.
type call struct {
	notify   chan struct{} // 1-buffered: something arrived
	queue    []rpc.ReplyPacket
	buffered int   // what the values in queue cost (queuedCost)
	err      error // set when the call ends without a reply: no responders, closed, overflow
}

// ClientOption configures a Client.
type ClientOption func(*clientOptions)

type clientOptions struct {
	timeout         time.Duration
	maxStreamBuffer int
	conn            options
}

// WithCallTimeout sets the deadline of calls whose context has none
// (default 30s, as the server's default Timeout). Zero or less: such calls
// have no deadline.
func WithCallTimeout(d time.Duration) ClientOption {
	return func(o *clientOptions) { o.timeout = d }
}

// WithMaxStreamBuffer bounds the bytes of the values a stream call has
// received and its consumer has not yet taken, each counted with 96 bytes
// for its place in the queue (default 16 MiB,
// rpc.DefaultMaxStreamBuffer); past it the call ends with
// rpc.ErrStreamOverflow, as with the TCP client's rpc.WithMaxStreamBuffer.
// Zero or less removes the bound.
func WithMaxStreamBuffer(n int) ClientOption {
	return func(o *clientOptions) { o.maxStreamBuffer = n }
}

// WithConnOptions applies connection options ([Credentials], [TLS], …)
// to the connection [Dial] makes.
func WithConnOptions(opts ...Option) ClientOption {
	return func(o *clientOptions) {
		for _, opt := range opts {
			opt(&o.conn)
		}
	}
}

// NewClient returns a client calling over nc, which stays the caller's.
func NewClient(nc *nats.Conn, opts ...ClientOption) (*Client, error) {
	o := clientOptions{timeout: rpc.DefaultTimeout, maxStreamBuffer: rpc.DefaultMaxStreamBuffer}
	for _, opt := range opts {
		opt(&o)
	}
	return newClient(nc, false, o)
}

// Dial connects to the NATS server at url and returns a client owning the
// connection (closed by Close).
func Dial(url string, opts ...ClientOption) (*Client, error) {
	o := clientOptions{timeout: rpc.DefaultTimeout, maxStreamBuffer: rpc.DefaultMaxStreamBuffer, conn: defaultOptions()}
	for _, opt := range opts {
		opt(&o)
	}
	nc, err := o.conn.connect(url)
	if err != nil {
		return nil, err
	}
	c, err := newClient(nc, true, o)
	if err != nil {
		nc.Close()
	}
	return c, err
}

func newClient(nc *nats.Conn, owned bool, o clientOptions) (*Client, error) {
	c := &Client{nc: nc, owned: owned, timeout: o.timeout, maxStreamBuffer: o.maxStreamBuffer,
		pending: map[string]*call{}, subGone: make(chan struct{}), publishing: make(chan struct{}, maxPublishing)}
	c.inbox = nc.NewInbox() + "." // ours alone: replies come to inbox + token
	sub, err := nc.Subscribe(c.inbox+"*", c.deliver)
	if err != nil {
		return nil, fmt.Errorf("natsrpc: subscribe to the reply inbox: %w", err)
	}
	// Behind the delivery goroutine nats.go queues what arrives, counting
	// only data and headers as bytes: a message limit bounds what empty
	// messages with long subjects hold (anyone who learnt the inbox from a
	// call may send them), as the server's subscriptions do
	// (pendingMsgOverhead). Past either limit nats.go drops messages, and
	// deliver fails the calls then pending (errRepliesDropped).
	sub.SetPendingLimits(pendingMsgsFor(clientPendingBytes), clientPendingBytes)
	c.sub = sub
	// The subscription ends with the connection (or Close): pending calls
	// fail then rather than at their deadline. nats.go calls an async
	// subscription's closed handler when its delivery goroutine exits,
	// whichever way it ends; its status channel, by contrast, does not
	// report a subscription closed with its connection.
	sub.SetClosedHandler(func(string) { c.subscriptionGone() })
	if !sub.IsValid() { // closed before the handler was set
		c.subscriptionGone()
	}
	return c, nil
}

// clientPendingBytes is the reply inbox subscription's pending byte limit.
const clientPendingBytes = 64 << 20

// errRepliesDropped ends the calls pending when the reply inbox dropped
// messages: any of them may have lost its reply or a stream value, and a
// stream must not go on without it.
var errRepliesDropped = fmt.Errorf("natsrpc: the client fell behind and its reply inbox dropped messages: %w", nats.ErrSlowConsumer)

// subscriptionGone fails the pending calls once the inbox subscription
// has ended.
func (c *Client) subscriptionGone() {
	c.subGoneOnce.Do(func() {
		c.failAll(fmt.Errorf("%w: %w", rpc.ErrConnectionLost, nats.ErrConnectionClosed))
		close(c.subGone)
	})
}

// failAll ends every pending call with err.
func (c *Client) failAll(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failAllLocked(err)
}

func (c *Client) failAllLocked(err error) {
	for token, ca := range c.pending {
		ca.err = err
		signal(ca.notify)
		delete(c.pending, token)
	}
}

func lastToken(s string) string {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return s[i+1:]
		}
	}
	return s
}

// Close fails the pending calls with rpc.ErrClientClosed, drops the inbox
// subscription and closes a connection made by Dial. A publish that a call
// gave up on (its context ended while the connection could not write) ends
// with the connection's write: at nats.go's write timeout (FlusherTimeout)
// or when the connection closes.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	for token, ca := range c.pending {
		ca.err = rpc.ErrClientClosed
		signal(ca.notify)
		delete(c.pending, token)
	}
	c.mu.Unlock()
	if err := c.sub.Unsubscribe(); err != nil && !c.sub.IsValid() {
		// Already gone with its connection: the handler has run or is
		// about to; nothing else will end the subscription.
		c.subscriptionGone()
	}
	if c.owned {
		c.nc.Close()
	}
	<-c.subGone
	return nil
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// deliver routes a reply message to its call by the reply subject's token.
func (c *Client) deliver(m *nats.Msg) {
	token := lastToken(m.Subject)
	var item rpc.ReplyPacket
	noResponders := len(m.Data) == 0 && m.Header.Get("Status") == "503"
	switch {
	case noResponders: // ends the call below
	case len(m.Data) == 0:
		// NestJS's ClientNats ends the call (EmptyResponseException)
		// rather than wait out its deadline for another reply.
		item = rpc.ReplyPacket{Err: emptyReplyError(m.Header), Last: true}
	default:
		data := m.Data
		if !utf8.Valid(data) {
			// As Node.js decodes it (and rpc.Client over TCP): one U+FFFD
			// per maximal invalid subpart.
			data = wire.SanitizeUTF8(make([]byte, 0, wire.SanitizedLen(data)), data)
		}
		var ok bool
		if item, ok = classifyReply(data, token); !ok {
			// Another call's; but messages dropped before it must
			// still fail the calls pending (behind a flood of junk, no
			// reply may come to tell).
			c.checkDropped(m.Sub)
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.droppedLocked(m.Sub) {
		return
	}
	ca := c.pending[token]
	if ca == nil {
		return // a late reply to a call that gave up
	}
	if noResponders {
		ca.err = rpc.NoHandlerError()
		delete(c.pending, token)
	} else if c.maxStreamBuffer > 0 && ca.buffered > 0 && ca.buffered+queuedCost(item) > c.maxStreamBuffer {
		// The consumer fell behind: end the call rather than buffer
		// without bound (the subscription's pending limit does not
		// apply: this callback has drained the messages).
		ca.err = rpc.ErrStreamOverflow
		delete(c.pending, token)
	} else {
		ca.queue = append(ca.queue, item)
		ca.buffered += queuedCost(item)
		if item.Last {
			delete(c.pending, token)
		}
	}
	signal(ca.notify)
}

// checkDropped fails the calls pending if the inbox has dropped messages
// since it last did.
func (c *Client) checkDropped(sub *nats.Subscription) {
	if d, err := sub.Dropped(); err != nil || d == 0 {
		return // nothing ever dropped: no lock taken for junk
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.droppedLocked(sub)
}

// droppedLocked fails the calls pending, and reports so, if the inbox has
// dropped messages since it last did; c.mu is held.
func (c *Client) droppedLocked(sub *nats.Subscription) bool {
	if d, err := sub.Dropped(); err == nil && d > c.dropped {
		c.dropped = d
		c.failAllLocked(errRepliesDropped)
		return true
	}
	return false
}

// The headers of a NATS micro endpoint's error reply, whose body is empty.
const (
	microErrorHeader     = "Nats-Service-Error"
	microErrorCodeHeader = "Nats-Service-Error-Code"
)

// emptyReplyError is the error reply a reply with an empty body stands
// for: a NATS micro endpoint's error (status its code), else "Empty
// response", as NestJS's EmptyResponseException says. It is made as an
// error packet would be, so that it reads as any other remote error.
func emptyReplyError(h nats.Header) error {
	status, msg := "error", "Empty response"
	if e := h.Get(microErrorHeader); e != "" {
		msg = e
		if code := h.Get(microErrorCodeHeader); code != "" {
			status = code
		}
	}
	packet, _ := json.Marshal(map[string]any{"err": map[string]string{"status": status, "message": msg}, "isDisposed": true})
	rep, _ := rpc.ParseReplyPacket(packet)
	return rep.Err
}

// classifyReply decodes a reply message as NestJS's ClientNats does. A
// body with none of "err", "response" and "isDisposed" — JSON that is not
// an object, or one such as {"sum":3} or {}, as a plain NATS responder
// (nats.go's Respond, `nats reply`) sends — is external: the call's whole
// and last value. Such an object with an "id" is the call's if the id is
// its own (else another call's), and then its whole and last value too,
// unless it has nothing but "id" and "status": as from our TCP client, an
// undefined stream value (null: a NestJS server sends {"id":…} for one).
// Any other body is a reply packet.
func classifyReply(body []byte, token string) (rpc.ReplyPacket, bool) {
	rep, known, err := wire.ParseReply(body, wire.NoDepthLimit)
	switch {
	case errors.Is(err, wire.ErrNotObject):
	case err != nil:
		// Not JSON (a plain responder's msg.Respond([]byte("pong"))): the
		// reply subject's token is the call's alone, so it is the answer,
		// one the call cannot take; it ends the call rather than leave it
		// waiting out its deadline (a message to no pending call is
		// ignored, as any other).
		return rpc.ReplyPacket{Err: fmt.Errorf("natsrpc: the reply is not JSON: %w", err), Last: true}, true
	case rep.HasReplyMember():
		return rpc.ParseReplyPacket(body)
	case rep.ID != nil && string(rep.ID) != token && string(rep.ID) != `"`+token+`"`:
		return rpc.ReplyPacket{}, false // another call's
	case rep.ID != nil && known:
		return rpc.ParseReplyPacket(body) // {"id":…}: an undefined value
	}
	return rpc.ReplyPacket{Value: append(json.RawMessage(nil), bytes.TrimSpace(body)...), Last: true}, true
}

// queuedCost is what a packet waiting for its consumer costs: its value's
// bytes and its queue entry, so that tiny values are bounded too.
func queuedCost(p rpc.ReplyPacket) int { return len(p.Value) + 96 }

// start sends one request and returns its token and call.
func (c *Client) start(ctx context.Context, pattern any, data any, opts []rpc.CallOption) (string, *call, error) {
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	set := rpc.CallSettingsOf(opts...)
	// A token no one can guess: a responder sees the reply subjects of
	// the requests it gets, and a counter would tell it every other call's
	// (NestJS's client makes an inbox per call for the same reason).
	token := rand.Text()
	packet, route, err := rpc.AppendRequestPacket(nil, pattern, data, set.Metadata, []byte(`"`+token+`"`))
	if err != nil {
		return "", nil, err
	}
	if err := checkPublish(route, c.inbox+token, len(packet)); err != nil {
		return "", nil, err
	}
	ca := &call{notify: make(chan struct{}, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return "", nil, rpc.ErrClientClosed
	}
	if !c.sub.IsValid() {
		c.mu.Unlock()
		return "", nil, fmt.Errorf("%w: %w", rpc.ErrConnectionLost, nats.ErrConnectionClosed)
	}
	c.pending[token] = ca
	c.mu.Unlock()
	if err := c.publish(ctx, route, c.inbox+token, packet); err != nil {
		c.forget(token)
		return "", nil, c.sendError(err)
	}
	return token, ca, nil
}

// maxPublishing bounds the requests being handed to the NATS connection at
// once, each in a goroutine of its own: when the connection cannot write
// (a NATS server that stopped reading), nats.go's publish blocks until its
// write timeout (FlusherTimeout, a minute by default), and the calls keep
// their deadlines; what those publishes hold is bounded by this many
// packets.
const maxPublishing = 64

// publish hands a request (or, without reply, an event) to the
// connection, returning ctx's error if ctx ends first (it may still be
// sent).
func (c *Client) publish(ctx context.Context, subject, reply string, packet []byte) error {
	select {
	case c.publishing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	done := make(chan error, 1)
	go func() {
		// MaxPayload, too, waits for the connection's lock, which a
		// blocked write holds.
		err := c.checkPayload(packet)
		if err == nil && reply == "" {
			err = c.nc.Publish(subject, packet)
		} else if err == nil {
			err = c.nc.PublishRequest(subject, reply, packet)
		}
		done <- err
		<-c.publishing
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done: // published after all: not the context's error
			return err
		default:
			return ctx.Err()
		}
	}
}

func (c *Client) checkPayload(packet []byte) error {
	if max := c.nc.MaxPayload(); max > 0 && int64(len(packet)) > max {
		return fmt.Errorf("natsrpc: request of %d bytes exceeds the NATS server's max_payload of %d bytes: %w", len(packet), max, nats.ErrMaxPayload)
	}
	return nil
}

// sendError maps a publish failure to the rpc client errors.
func (c *Client) sendError(err error) error {
	if errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("%w: %w", rpc.ErrConnectionLost, err)
	}
	return err
}

func (c *Client) forget(token string) {
	c.mu.Lock()
	delete(c.pending, token)
	c.mu.Unlock()
}

// withDeadline gives ctx the client's default timeout if it has none.
func (c *Client) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || c.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout)
}

// next waits for the call's next reply packet.
func (c *Client) next(ctx context.Context, token string, ca *call) (rpc.ReplyPacket, error) {
	for {
		c.mu.Lock()
		if len(ca.queue) > 0 {
			item := ca.queue[0]
			ca.queue[0] = rpc.ReplyPacket{}
			ca.queue = ca.queue[1:]
			ca.buffered -= queuedCost(item)
			c.mu.Unlock()
			return item, nil
		}
		err := ca.err
		c.mu.Unlock()
		if err != nil {
			return rpc.ReplyPacket{}, err
		}
		select {
		case <-ca.notify:
		case <-ctx.Done():
			c.forget(token)
			return rpc.ReplyPacket{}, ctx.Err()
		}
	}
}

// Send calls pattern with data and decodes the reply's last value into out
// (which may be nil); see [rpc.Client.Send].
func (c *Client) Send(ctx context.Context, pattern any, data any, out any, opts ...rpc.CallOption) error {
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	token, ca, err := c.start(ctx, pattern, data, opts)
	if err != nil {
		return err
	}
	var last json.RawMessage
	for {
		item, err := c.next(ctx, token, ca)
		if err != nil {
			return err
		}
		if item.Err != nil {
			return item.Err
		}
		if item.Value != nil {
			last = item.Value
		}
		if item.Last {
			break
		}
	}
	if out == nil || last == nil {
		return nil
	}
	if p, ok := out.(*json.RawMessage); ok {
		*p = last
		return nil
	}
	if err := json.Unmarshal(last, out); err != nil {
		return fmt.Errorf("natsrpc: decoding the reply to %v: %w", pattern, err)
	}
	return nil
}

// Stream calls pattern and yields each value of the reply as it arrives;
// see [rpc.Client.Stream].
func (c *Client) Stream(ctx context.Context, pattern any, data any, opts ...rpc.CallOption) iter.Seq2[json.RawMessage, error] {
	return func(yield func(json.RawMessage, error) bool) {
		ctx, cancel := c.withDeadline(ctx)
		defer cancel()
		token, ca, err := c.start(ctx, pattern, data, opts)
		if err != nil {
			yield(nil, err)
			return
		}
		defer c.forget(token)
		for {
			// Ended: what is buffered is not yielded, or a producer that
			// keeps the queue non-empty keeps the call going past ctx.
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			item, err := c.next(ctx, token, ca)
			if err == nil {
				err = item.Err
			}
			if err != nil {
				yield(nil, err)
				return
			}
			if item.Value != nil && !yield(item.Value, nil) {
				return
			}
			if item.Last {
				return
			}
		}
	}
}

// Flush waits until the NATS server has everything sent so far (events
// included), or ctx ends; a ctx without deadline gets the client's default
// timeout, as a call's does.
func (c *Client) Flush(ctx context.Context) error {
	if err := c.checkOpen(); err != nil {
		return err
	}
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	if _, ok := ctx.Deadline(); !ok {
		// No timeout (WithCallTimeout(0)): nats.go's FlushWithContext
		// refuses a context without deadline; one far off waits as ctx
		// does.
		ctx, cancel = context.WithDeadline(ctx, time.Now().AddDate(100, 0, 0))
		defer cancel()
	}
	return c.nc.FlushWithContext(ctx)
}

// checkOpen returns rpc.ErrClientClosed after Close: a connection of the
// caller's (NewClient) is still open, and must not carry this client's
// events.
func (c *Client) checkOpen() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return rpc.ErrClientClosed
	}
	return nil
}

// Emit publishes an event: no id, no reply. It returns once the event is
// handed to the NATS connection, or with ctx's error if ctx ends first (a
// connection that cannot write; the event may still be sent);
// [Client.Flush] waits until the NATS server has it.
func (c *Client) Emit(ctx context.Context, pattern any, data any, opts ...rpc.CallOption) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	set := rpc.CallSettingsOf(opts...)
	packet, route, err := rpc.AppendRequestPacket(nil, pattern, data, set.Metadata, nil)
	if err != nil {
		return err
	}
	if err := checkPublish(route, "", len(packet)); err != nil {
		return err
	}
	if err := c.checkOpen(); err != nil {
		return err
	}
	if err := c.publish(ctx, route, "", packet); err != nil {
		return c.sendError(err)
	}
	return nil
}
