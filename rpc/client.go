package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Client calls message patterns on a NestJS-compatible TCP server — a
// msgpattern server or a real NestJS microservice. Calls are multiplexed
// over one connection (or a small pool), matched by id, their frames
// coalesced into few writes. Connections are made lazily on first use,
// as a NestJS ClientProxy does, unless [WithEagerConnect] is given; a dead
// connection fails its pending calls at once and the next call reconnects,
// with capped, jittered backoff after failed dials.
//
// A Client is safe for concurrent use. Close it when done.
type Client struct {
	addr  string
	opts  clientOptions
	slots []*clientSlot
	rr    atomic.Uint64
	ids   atomic.Uint64

	closed  atomic.Bool
	closeMu sync.Mutex
	// closing ends when Close starts: dials and backoff waits in progress
	// give up on it rather than outlive the client.
	closing     context.Context
	closeCancel context.CancelFunc
	stats       clientCounters
}

// ClientOption configures a Client.
type ClientOption func(*clientOptions)

type clientOptions struct {
	poolSize          int
	leastPending      bool
	eager             bool
	tls               *tls.Config
	dialTimeout       time.Duration
	writeTimeout      time.Duration
	heartbeatInterval time.Duration
	heartbeatTimeout  time.Duration
	backoffMin        time.Duration
	backoffMax        time.Duration
	maxFrame          int
	maxQueued         int
	maxStreamBuffer   int
	decoder           Decoder
	log               *slog.Logger
}

// WithPool spreads calls over n connections (default 1). leastPending
// picks the connection with the fewest calls waiting; otherwise calls go
// round-robin. A connection that is down and redialling, or waiting out
// its backoff, is passed over while another can take the call, and a call
// whose dial failed (its request never left) tries another connection.
// More than [MaxPoolSize] connections is an error of NewClient (one
// address cannot take more from one host: there are not the ports).
func WithPool(n int, leastPending bool) ClientOption {
	return func(o *clientOptions) { o.poolSize, o.leastPending = max(n, 1), leastPending }
}

// WithEagerConnect makes NewClient connect at once and fail if it cannot.
func WithEagerConnect() ClientOption { return func(o *clientOptions) { o.eager = true } }

// WithTLS dials with TLS; put client certificates in cfg.Certificates for
// mutual TLS.
func WithTLS(cfg *tls.Config) ClientOption { return func(o *clientOptions) { o.tls = cfg } }

// WithDialTimeout bounds each dial of the client (default 10s; zero or
// negative: no bound but the call's context, as net.Dialer's Timeout). It
// is a client option; a handler's deadline is the server's Config.Timeout,
// or the HandleOption WithTimeout, and a call's is its context's.
func WithDialTimeout(d time.Duration) ClientOption {
	return func(o *clientOptions) { o.dialTimeout = max(d, 0) }
}

// WithWriteTimeout fails a connection whose socket takes no bytes for d
// while requests wait to be written (default 10s, as the server's
// Config.WriteTimeout; on Linux, for the writer goroutine's writes over
// TCP, bytes the server's system acknowledges count as taken, as there):
// the server stopped reading, so the connection is treated as lost and the
// next call redials. A call's own context bounds its write too. Zero or
// less turns the timeout off; heartbeats (WithHeartbeat) still find a
// server that stops reading and answering. As on the server, a value under
// a few milliseconds is not meaningful.
func WithWriteTimeout(d time.Duration) ClientOption {
	return func(o *clientOptions) { o.writeTimeout = d }
}

// WithHeartbeat sets how long a connection may be idle before the client
// pings (default 10s) and how long it waits for any answer before it
// declares the connection dead (default 30s), as the server's Config does.
// Toward a real NestJS server, which has no heartbeats, the client notices
// the first ping's "no handler" reply and stops pinging; TCP keepalive,
// derived from the same two durations, still finds dead peers. An interval
// of zero or less turns pings off. A zero timeout is the default, 30s
// ([DefaultHeartbeatTimeout]); a negative one turns the timeout off: pings
// are still sent, but heartbeats never declare a connection dead, and TCP
// keepalive gives up after the operating system's count of probes (as a
// negative Config.HeartbeatTimeout does on the server). Pings are written
// by the connection's writer goroutine, so a write that the server does
// not take (with WithWriteTimeout(0), one that never ends) does not stop
// the timeout. A ping queued behind a long upload cannot be answered
// before the upload is read: until the ping has left, bytes the server
// takes count as its answer; after, the timeout runs from its write. On
// Linux bytes the server's system acknowledges count too (TCP_INFO): a
// write into a full send buffer returns only once much of it has drained,
// and the upload's tail may wait there behind a slow link for longer than
// the timeout; elsewhere an upload drained from that buffer slower than
// half the buffer's size per timeout (it grows to megabytes) can be cut.
// Once the server's system has acknowledged the ping, only its answer
// counts: a server process that reads its receive buffer (up to a few MiB)
// slower than that buffer's size per timeout is declared dead.
func WithHeartbeat(interval, timeout time.Duration) ClientOption {
	return func(o *clientOptions) { o.heartbeatInterval, o.heartbeatTimeout = interval, timeout }
}

// WithReconnectBackoff bounds the wait between failed dials (default 50ms
// doubling up to 5s, with jitter). A maximum of zero or less: no wait.
func WithReconnectBackoff(minDelay, maxDelay time.Duration) ClientOption {
	return func(o *clientOptions) { o.backoffMin, o.backoffMax = minDelay, maxDelay }
}

// WithMaxFrameSize sets the longest reply frame accepted, in UTF-16 units
// (default 16 Mi, as the server's Config.MaxFrameSize). A longer reply
// closes the connection, failing its pending calls. Zero or less: the
// default.
func WithMaxFrameSize(units int) ClientOption { return func(o *clientOptions) { o.maxFrame = units } }

// WithMaxQueuedBytes bounds the request bytes one connection may have
// waiting to be written (default 16 MiB, [DefaultClientMaxQueuedBytes]).
// A call whose request would leave more waiting waits, within its context,
// until the server has taken enough: a server that reads slowly holds
// callers back rather than making the client buffer without end. A request
// of any size still goes out when nothing waits before it. Zero or less
// removes the bound.
func WithMaxQueuedBytes(n int) ClientOption { return func(o *clientOptions) { o.maxQueued = n } }

// WithMaxStreamBuffer bounds the bytes of the values a stream call
// ([Client.Stream]) has received and its consumer has not yet taken, each
// counted with 64 bytes for its place in the queue (default 16 MiB,
// [DefaultMaxStreamBuffer]). A consumer that falls further
// behind gets [ErrStreamOverflow] and the call ends, as a NATS subscriber
// that cannot keep up is dropped as a slow consumer; the connection and
// other calls go on. A value of any size is still taken when none waits.
// Zero or less removes the bound.
func WithMaxStreamBuffer(n int) ClientOption {
	return func(o *clientOptions) { o.maxStreamBuffer = n }
}

// MaxPoolSize is the most connections WithPool accepts.
const MaxPoolSize = 1 << 16

// Client buffer bounds (see WithMaxQueuedBytes and WithMaxStreamBuffer).
const (
	DefaultClientMaxQueuedBytes = 16 << 20
	DefaultMaxStreamBuffer      = 16 << 20
)

// WithDecoder decodes replies with d instead of the built-in decoder (see
// Config.Decoder): those of Send, [Call] and the values of [StreamOf].
func WithDecoder(d Decoder) ClientOption { return func(o *clientOptions) { o.decoder = d } }

func (c *Client) decode(data []byte, v any) error { return unmarshal(c.opts.decoder, data, v) }

// WithClientLogger sets the client's logger (default slog.Default()).
func WithClientLogger(l *slog.Logger) ClientOption { return func(o *clientOptions) { o.log = l } }

// NewClient returns a client for the server at addr ("host:port"; the host
// may be empty for the local machine). An address without a port is an
// error at once, not at the first call.
func NewClient(addr string, opts ...ClientOption) (*Client, error) {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		if err == nil {
			err = errors.New("missing port")
		}
		return nil, fmt.Errorf("rpc: client address %q: want host:port: %w", addr, err)
	}
	o := clientOptions{
		poolSize:          1,
		dialTimeout:       10 * time.Second,
		writeTimeout:      DefaultWriteTimeout,
		heartbeatInterval: DefaultHeartbeatInterval,
		heartbeatTimeout:  DefaultHeartbeatTimeout,
		backoffMin:        50 * time.Millisecond,
		backoffMax:        5 * time.Second,
		maxQueued:         DefaultClientMaxQueuedBytes,
		maxStreamBuffer:   DefaultMaxStreamBuffer,
		log:               slog.Default(),
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.poolSize > MaxPoolSize {
		return nil, fmt.Errorf("rpc: client pool of %d connections: at most %d", o.poolSize, MaxPoolSize)
	}
	if o.heartbeatTimeout == 0 { // negative: no timeout
		o.heartbeatTimeout = DefaultHeartbeatTimeout
	}
	c := &Client{addr: addr, opts: o}
	c.closing, c.closeCancel = context.WithCancel(context.Background())
	c.slots = make([]*clientSlot, o.poolSize)
	for i := range c.slots {
		c.slots[i] = &clientSlot{client: c}
	}
	if o.eager {
		// Each connection's dial has the whole timeout (WithDialTimeout
		// bounds each dial), not what the pool's earlier dials left.
		for _, s := range c.slots {
			ctx, cancel := context.WithCancel(context.Background())
			if o.dialTimeout > 0 {
				ctx, cancel = context.WithTimeout(context.Background(), o.dialTimeout)
			}
			_, err := s.get(ctx)
			cancel()
			if err != nil {
				c.Close()
				return nil, err
			}
		}
	}
	return c, nil
}

// Close closes every connection; calls still pending fail with
// ErrClientClosed (one whose request is being written too), and so do
// calls waiting to dial (in a dial or its backoff). It waits for the
// client's goroutines to finish.
func (c *Client) Close() error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed.Swap(true) {
		return nil
	}
	c.closeCancel()
	for _, s := range c.slots {
		s.mu.Lock()
		cc, dialing := s.conn, s.dialing
		s.mu.Unlock()
		if dialing != nil {
			// The dial gives up on closing; its connection, if it was
			// made first, is closed before dialing closes. But a dial
			// that saw closed unset just before it was set installs its
			// connection: read the slot again.
			<-dialing
			s.mu.Lock()
			cc = s.conn
			s.mu.Unlock()
		}
		if cc != nil {
			cc.fail(ErrClientClosed)
			<-cc.done
		}
	}
	return nil
}

// pick chooses the connection slot for a call.
//
// A slot whose connection is down and which is dialling, or waiting out
// its reconnect backoff, is passed over while another slot can take the
// call (as gRPC's round robin skips a connection that is not ready): a
// call sent there would wait for the dial and, the server being down for
// it, fail.
func (c *Client) pick() *clientSlot {
	if len(c.slots) == 1 {
		return c.slots[0]
	}
	n := len(c.slots)
	first := int(c.rr.Add(1) % uint64(n))
	now := monotime()
	if !c.opts.leastPending {
		for i := range n {
			if s := c.slots[(first+i)%n]; !s.unready(now) {
				return s
			}
		}
		return c.slots[first]
	}
	// Start the scan at a rotating slot so that ties spread out.
	var best *clientSlot
	var bestN int64
	for i := range n {
		s := c.slots[(first+i)%n]
		pending, unready := s.load(now)
		if unready {
			continue
		}
		if best == nil || pending < bestN {
			best, bestN = s, pending
		}
		if bestN == 0 {
			break
		}
	}
	if best == nil {
		return c.slots[first]
	}
	return best
}

// clientSlot is one connection of the pool, redialled when it dies.
type clientSlot struct {
	client *Client

	mu       sync.Mutex
	conn     *clientConn
	dialing  chan struct{} // closed when the dial in progress ends
	dialErr  error         // why the dial that closed dialing last failed; nil if it did not count as a failure
	failures int
	judged   *clientConn // the dead connection last counted for the backoff (get)
	retryAt  int64       // monotime before which no dial is tried
	dialled  bool        // a connection existed before: the next one is a reconnect
}

// load is the slot's calls in flight, and whether it is unready (see
// unready).
func (s *clientSlot) load(now int64) (pending int64, unready bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		pending = s.conn.inflight.Load()
	}
	return pending, s.unreadyLocked(now)
}

// unready reports whether the slot has no live connection and is dialling
// or waiting out its backoff: a call sent there would wait. A slot never
// dialled, or whose connection has just died, is not: the call dials it.
func (s *clientSlot) unready(now int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unreadyLocked(now)
}

func (s *clientSlot) unreadyLocked(now int64) bool {
	if s.conn != nil && !s.conn.isDead() {
		return false
	}
	return s.dialing != nil || s.retryAt > now || s.conn != nil && s.judged != s.conn && diedYoung(s.conn)
}

// diedYoung reports whether the dead connection cc lived less than a
// second without a reply (a server that accepts and closes at once: full,
// or a proxy whose backend is down): its redial counts as a failure for
// the backoff. A frame that answered none of its calls (an unknown id, a
// foreign frame: a banner, say) is no reply.
func diedYoung(cc *clientConn) bool {
	return !cc.replied.Load() && cc.diedAt.Load()-cc.born < int64(time.Second)
}

// current is the slot's connection, live or dead; nil before the first.
func (s *clientSlot) current() *clientConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// get returns the slot's live connection, dialling if there is none.
func (s *clientSlot) get(ctx context.Context) (*clientConn, error) {
	c := s.client
	for {
		if c.closed.Load() {
			return nil, ErrClientClosed
		}
		s.mu.Lock()
		if cc := s.conn; cc != nil && !cc.isDead() {
			s.mu.Unlock()
			return cc, nil
		}
		if ch := s.dialing; ch != nil {
			s.mu.Unlock()
			select {
			case <-ch:
				// The dial we waited for failed (the server is down):
				// fail with it, as its caller does, rather than dial
				// again in turn behind every other waiter.
				s.mu.Lock()
				cc, derr := s.conn, s.dialErr
				s.mu.Unlock()
				if (cc == nil || cc.isDead()) && derr != nil && !c.closed.Load() {
					return nil, derr
				}
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-c.closing.Done():
				return nil, ErrClientClosed
			}
		}
		if c.closed.Load() { // checked under s.mu: Close, which sets it first, sees our dialing
			s.mu.Unlock()
			return nil, ErrClientClosed
		}
		if old := s.conn; old != nil && s.judged != old {
			// Dead. One that died young without a reply (a server that
			// accepts and closes at once: full, or a proxy with its
			// backend down) counts as a failed dial, so that its redials
			// back off too; one that lived ends the run of failures.
			s.judged = old
			if diedYoung(old) {
				s.failures++
				s.retryAt = monotime() + int64(c.backoff(s.failures))
			} else {
				s.failures, s.retryAt = 0, 0
			}
		}
		ch := make(chan struct{})
		s.dialing = ch
		wait := time.Duration(s.retryAt - monotime())
		s.mu.Unlock()

		cc, err := s.dial(ctx, wait)

		if err == nil && c.closed.Load() {
			// Closed while dialling: Close waits on ch, so this
			// connection's goroutines end before Close returns.
			cc.fail(ErrClientClosed)
			<-cc.done
			cc, err = nil, ErrClientClosed
		}
		if testHookDialed != nil {
			testHookDialed()
		}
		s.mu.Lock()
		s.dialing = nil
		s.dialErr = nil
		if err != nil && (ctx.Err() == nil || !errors.Is(err, ctx.Err())) {
			s.dialErr = err // before close(ch): its waiters read it
		}
		close(ch)
		if err != nil {
			if c.closed.Load() {
				s.mu.Unlock()
				return nil, ErrClientClosed
			}
			if ctx.Err() == nil || !errors.Is(err, ctx.Err()) {
				s.failures++
				s.retryAt = monotime() + int64(c.backoff(s.failures))
			}
			s.mu.Unlock()
			return nil, err
		}
		if s.dialled {
			c.stats.reconnects.Add(1)
		}
		s.conn, s.retryAt, s.dialled = cc, 0, true
		s.mu.Unlock()
		return cc, nil
	}
}

// testHookDialed, when set by a test, runs after a dial's closed check and
// before it installs the connection.
var testHookDialed func()

// dial waits out the backoff, then connects. Both end early when ctx ends
// or the client closes.
func (s *clientSlot) dial(ctx context.Context, wait time.Duration) (*clientConn, error) {
	c := s.client
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-c.closing.Done():
			t.Stop()
			return nil, ErrClientClosed
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.closing, cancel)()
	cfg := Config{HeartbeatInterval: c.opts.heartbeatInterval, HeartbeatTimeout: c.opts.heartbeatTimeout}
	cfg.setDefaults()
	d := &net.Dialer{Timeout: c.opts.dialTimeout, KeepAliveConfig: keepAlive(&cfg)}
	var (
		nc  net.Conn
		err error
	)
	if c.opts.tls != nil {
		nc, err = (&tls.Dialer{NetDialer: d, Config: c.opts.tls}).DialContext(ctx, "tcp", c.addr)
	} else {
		nc, err = d.DialContext(ctx, "tcp", c.addr)
	}
	if err != nil {
		c.stats.dialErrors.Add(1)
		return nil, fmt.Errorf("rpc: dial %s: %w", c.addr, err)
	}
	return newClientConn(c, nc), nil
}

// backoff is the wait after the n-th consecutive failed dial.
func (c *Client) backoff(n int) time.Duration {
	if c.opts.backoffMin <= 0 {
		return 0
	}
	d := c.opts.backoffMin << min(n-1, 20)
	if d > c.opts.backoffMax || d <= 0 {
		d = c.opts.backoffMax
	}
	if d <= 0 { // a maximum of zero or less: no wait (rand.Int64N panics on n <= 0)
		return 0
	}
	return d/2 + time.Duration(rand.Int64N(int64(d)/2+1)) // jitter: [d/2, d]
}
