package rpc

import (
	"crypto/tls"
	"math"
	"time"

	"github.com/msgpattern/msgpattern/wire"
)

// Config configures a [Server]. A nil *Config, or any zero field, means the
// documented default, so a Config literal need only name what it changes.
// The first nine fields are the original API of this package and keep their
// original defaults.
type Config struct {
	// Addr is the TCP address to listen on. Default ":8080".
	Addr string
	// Timeout bounds each request: the handler's context is cancelled at
	// the deadline. Default 30s; negative means no deadline.
	Timeout time.Duration
	// MaxConnections caps concurrent connections. Default 1000; negative
	// means no cap. At the cap a new connection takes the place of one
	// idle for EvictIdleAfter, if there is one, else it is closed.
	MaxConnections int
	// RateLimitPerSec and RateLimitBurst limit the messages of one
	// connection (a token bucket): a request over the limit is answered
	// at once with {"status":"error","message":"Rate limit exceeded"} and
	// not run; an event over the limit is dropped. Both are counted.
	// Defaults 100 and, for the burst, twice the rate but at least 200. A
	// negative RateLimitPerSec turns the limit off; a negative
	// RateLimitBurst is a burst of 1.
	RateLimitPerSec int
	RateLimitBurst  int
	// RetryAttempts is how many times a handler is run again after an
	// error that says the work did not happen or may safely be repeated —
	// one the handler marked with Transient, or a client's ErrUnavailable
	// (the request it made never left) — waiting RetryDelay, then twice as
	// long each time, with ±20% jitter, never past the request's deadline,
	// and only while nothing of the reply was sent. A plain error, a remote
	// error or a connection lost mid-call is answered at once. (Before
	// v0.3 every plain error was retried; see CHANGELOG.md.) Defaults 3
	// and 500ms. A negative RetryAttempts turns retries off; WithoutRetry
	// does so for one pattern. A negative RetryDelay retries at once.
	RetryAttempts int
	RetryDelay    time.Duration
	// HeartbeatInterval and HeartbeatTimeout find dead peers. Every
	// connection gets TCP keepalive probes after HeartbeatInterval of
	// silence, every HeartbeatInterval, until HeartbeatTimeout; peers that
	// speak msgpattern heartbeats (see HeartbeatPattern) are also dropped
	// when silent for HeartbeatTimeout. Defaults 10s and 30s. Keepalive
	// counts whole seconds and at most 127 probes: a HeartbeatTimeout
	// longer than 127 intervals lengthens the interval between probes. A
	// negative HeartbeatTimeout drops no peer for its silence (pings are
	// still answered) and leaves the probe count to the operating system;
	// a negative HeartbeatInterval leaves keepalive's timing to it.
	HeartbeatInterval time.Duration
	HeartbeatTimeout  time.Duration

	// MaxFrameSize is the longest frame accepted, in UTF-16 units for
	// NestJS framing and bytes for line framing. A longer frame closes the
	// connection as soon as its length prefix is read, before it is
	// buffered. Default 16 Mi ([wire.DefaultMaxFrameUnits]): UTF-16
	// units for NestJS framing (up to about 48 MiB of UTF-8), bytes for
	// line framing; negative means no limit of its own (MemoryBudget
	// still bounds what a frame can hold).
	MaxFrameSize int
	// FrameTimeout is how long a peer may stay silent in the middle of a
	// frame: it is dropped then, as NestJS 12's incompleteMessageTimeout
	// does (every chunk received restarts the wait, so a slow but
	// progressing transfer is kept; see MinFrameRate for trickles). It
	// also bounds a TLS handshake, and a wait for MemoryBudget. Default
	// 30s; negative means no limit (and then no MinFrameRate either).
	FrameTimeout time.Duration
	// MaxInFlight caps the requests and events running at once on one
	// connection. When it is reached the server stops reading that
	// connection until one finishes (backpressure: nothing is dropped). A
	// handler that ignores its context holds its place past its Timeout,
	// until it returns. Default 256.
	MaxInFlight int
	// MaxDepth is the deepest JSON nesting accepted in a message. Deeper
	// messages are skipped as invalid. Default 1000, also for zero or
	// less.
	MaxDepth int
	// GlobalRateLimitPerSec and GlobalRateLimitBurst limit the messages
	// of all connections together, like the per-connection limit. Zero
	// (the default) means no server-wide limit. The burst defaults to
	// twice the rate, with no minimum (the per-connection burst is at least
	// 200).
	GlobalRateLimitPerSec int
	GlobalRateLimitBurst  int
	// TLSConfig, when set, makes Start serve TLS. Set ClientAuth and
	// ClientCAs for mutual TLS.
	TLSConfig *tls.Config

	// The bounds on what one peer, or all of them, can make the server
	// spend. Each has a default that holds with no configuration; a
	// negative value turns a bound off.

	// WriteTimeout drops a connection whose socket takes no bytes for this
	// long while replies wait (a peer that stopped reading, counted as
	// slow_consumer). Every socket write has this deadline, renewed while
	// the peer makes progress (on TLS, per 16 KiB written). On Linux bytes
	// the peer's system acknowledges are progress too (TCP, not TLS): a
	// write into a full send buffer returns only once much of it is free,
	// which for a peer reading steadily but slowly can take longer than
	// this. Default 10s, as the NATS server. A value under a few
	// milliseconds is not meaningful: a write's deadline may pass before
	// the write is tried, and the peer is dropped though it reads.
	WriteTimeout time.Duration
	// MaxQueuedReplyBytes caps the reply bytes queued for one connection
	// and not yet taken by its peer. Past it the connection is dropped
	// (slow_consumer); one reply larger than the cap still goes out when
	// nothing else is queued. Above half of it (at most 1 MiB) the server
	// stops reading the connection, so a peer that does not read gets no
	// new work run. Default 64 MiB, as the NATS server's pending limit.
	MaxQueuedReplyBytes int
	// MemoryBudget caps, server-wide, the bytes held for frames being
	// received beyond 64 KiB per connection, plus all queued replies. A
	// connection whose incoming frame needs more than the budget has left
	// stops being read (its peer's sends back up) until other connections
	// give bytes back, and is dropped (over_budget) if that takes longer
	// than FrameTimeout; connections with small frames keep being served.
	// Replies are charged until their write ends, without waiting (their
	// handlers have run); while the budget is over or a reader waits for
	// it, a connection holding more than the read-pause mark of them (half
	// of MaxQueuedReplyBytes, at most 1 MiB) behind a write that took
	// nothing for 100 ms is dropped (slow_consumer); replies then go out
	// in 16 KiB pieces, so a peer that takes less than 16 KiB per 100 ms
	// (160 KB/s) is the one dropped.
	// While it is at most half used, busy connections also read in chunks
	// of up to 1 MiB, the part past 64 KiB drawn from it (never waiting
	// for it; the largest half, quarter… that fits when the whole does
	// not). Default: half of GOMEMLIMIT (at least 64 MiB) when it is
	// set, else 512 MiB.
	MemoryBudget int64
	// MaxHandlers caps, per transport, the handlers running at once. On
	// TCP it caps the handlers running off their connection's reader
	// goroutine (handed off because they ran long); each connection's
	// reader runs one more inline, so at most MaxConnections + MaxHandlers
	// TCP handlers run at once. At the cap a long-running handler keeps its
	// reader: that connection is not read until a slot frees (backpressure;
	// nothing is dropped, and timeouts are still answered at the deadline).
	// A handler is never blocked by the cap. Each natsrpc.Server has
	// MaxHandlers workers of its own (unless natsrpc.WithMaxConcurrent
	// says otherwise; a negative value means the default there). Default
	// 4096.
	MaxHandlers int
	// EvictIdleAfter lets a server at MaxConnections admit a new
	// connection by closing the one idle the longest, provided it has been
	// idle (no byte read, nothing running or queued) for at least this
	// long. A connection is never closed for being idle while the server
	// has room. Default 5s; negative never evicts.
	EvictIdleAfter time.Duration
	// MinFrameRate is the least rate, in bytes per second, at which a
	// frame must arrive once it has taken longer than FrameTimeout: a peer
	// trickling a byte at a time is dropped although it is never silent
	// for FrameTimeout. Bytes sent ahead of the rate earn at most
	// FrameTimeout of credit, so a burst does not buy a trickle after it
	// more time than that. Default 500 (as Apache's mod_reqtimeout).
	MinFrameRate int

	// Decoder, when set, decodes the data of typed handlers (Typed,
	// Stream, Event) in place of the built-in decoder, which gives
	// encoding/json's results (struct tags, errors and all) about four
	// times faster for structs, slices, maps and scalars, and hands other
	// types to encoding/json. (Its one difference: short strings share
	// 512-byte chunks, and the []string slices of one value share arrays
	// of 32 strings, so a decoded string or []string kept after the
	// handler returns keeps its chunk alive; strings.Clone or slices.Clone
	// what you keep for long.) Plug a third-party decoder here, e.g.
	// rpc.DecoderFunc(sonic.Unmarshal) or DecoderFunc(gojson.Unmarshal),
	// accepting its differences from encoding/json. Decoding the data is
	// most of a typed request's cost for objects of a KiB or so
	// (docs/PERFORMANCE-NOTES.md has the measurements). Replies are always
	// encoded by the wire package, byte-compatible with NestJS's
	// JSON.stringify, so there is no encoder to plug.
	Decoder Decoder

	// Introspection serves the reserved patterns ListPattern,
	// HealthPattern and StatsPattern ("msgpattern:list", …), by which a
	// client (`msgpattern list`, `msgpattern health`) asks the server what
	// it serves, with JSON Schemas of typed handlers, whether it is
	// draining, and its counters. Off by default: a server shows nothing
	// of itself unless asked to.
	Introspection bool

	// ExposeErrors sends the text of errors that are not *Error to the
	// caller instead of NestJS's "Internal server error". Leave it off in
	// production: error text may hold details callers should not see.
	ExposeErrors bool
}

// Defaults of the original Config fields.
const (
	DefaultAddr              = ":8080"
	DefaultTimeout           = 30 * time.Second
	DefaultMaxConnections    = 1000
	DefaultRateLimitPerSec   = 100
	DefaultRateLimitBurst    = 200
	DefaultRetryAttempts     = 3
	DefaultRetryDelay        = 500 * time.Millisecond
	DefaultHeartbeatInterval = 10 * time.Second
	DefaultHeartbeatTimeout  = 30 * time.Second
	DefaultFrameTimeout      = 30 * time.Second
	DefaultMaxInFlight       = 256

	DefaultWriteTimeout        = 10 * time.Second
	DefaultMaxQueuedReplyBytes = 64 << 20
	DefaultMemoryBudget        = 512 << 20 // when GOMEMLIMIT is not set
	DefaultMaxHandlers         = 4096
	DefaultEvictIdleAfter      = 5 * time.Second
	DefaultMinFrameRate        = 500
)

// readPauseMarkMax bounds the queued reply bytes past which a reader stops
// reading its connection.
const readPauseMarkMax = 1 << 20

// DefaultConfig returns a Config with every field set to its default.
func DefaultConfig() *Config {
	var c Config
	c.setDefaults()
	return &c
}

// withDefaults returns a copy of c with zero fields set to their defaults.
func (c *Config) withDefaults() Config {
	var out Config
	if c != nil {
		out = *c
	}
	out.setDefaults()
	return out
}

func (c *Config) setDefaults() {
	setDefault(&c.Addr, DefaultAddr)
	setDefault(&c.Timeout, DefaultTimeout)
	setDefault(&c.MaxConnections, DefaultMaxConnections)
	setDefault(&c.RateLimitPerSec, DefaultRateLimitPerSec)
	if c.RateLimitBurst == 0 && c.RateLimitPerSec > 0 {
		// At least the original default, for code that sets only the rate.
		c.RateLimitBurst = int(min(max(2*int64(c.RateLimitPerSec), DefaultRateLimitBurst), math.MaxInt32))
	}
	setDefault(&c.RateLimitBurst, DefaultRateLimitBurst)
	setDefault(&c.RetryAttempts, DefaultRetryAttempts)
	setDefault(&c.RetryDelay, DefaultRetryDelay)
	setDefault(&c.HeartbeatInterval, DefaultHeartbeatInterval)
	setDefault(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	setDefault(&c.MaxFrameSize, wire.DefaultMaxFrameUnits)
	setDefault(&c.FrameTimeout, DefaultFrameTimeout)
	setDefault(&c.MaxInFlight, DefaultMaxInFlight)
	setDefault(&c.MaxDepth, wire.DefaultMaxDepth)
	setDefault(&c.WriteTimeout, DefaultWriteTimeout)
	setDefault(&c.MaxQueuedReplyBytes, DefaultMaxQueuedReplyBytes)
	if c.MemoryBudget == 0 {
		c.MemoryBudget = defaultMemoryBudget()
	}
	setDefault(&c.MaxHandlers, DefaultMaxHandlers)
	setDefault(&c.EvictIdleAfter, DefaultEvictIdleAfter)
	setDefault(&c.MinFrameRate, DefaultMinFrameRate)
}

// Effective limits: a negative bound is off.
func (c *Config) maxConnections() int {
	if c.MaxConnections < 0 {
		return math.MaxInt
	}
	return c.MaxConnections
}

func (c *Config) maxInFlight() int32 {
	if c.MaxInFlight < 0 || c.MaxInFlight > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(c.MaxInFlight)
}

// maxFrameSize is in the scanners' unit: UTF-16 units or bytes.
func (c *Config) maxFrameSize() int {
	if c.MaxFrameSize < 0 {
		return math.MaxInt
	}
	return c.MaxFrameSize
}

// frameTimeout is 0 when there is none.
func (c *Config) frameTimeout() time.Duration { return max(c.FrameTimeout, 0) }

func (c *Config) globalRateLimitBurst() int {
	if c.GlobalRateLimitBurst > 0 {
		return c.GlobalRateLimitBurst
	}
	if c.GlobalRateLimitPerSec > math.MaxInt/2 {
		return math.MaxInt // twice would wrap (from 1<<30 on 32-bit platforms)
	}
	return max(2*c.GlobalRateLimitPerSec, 1)
}

func (c *Config) memoryBudget() int64 {
	if c.MemoryBudget < 0 {
		return math.MaxInt64
	}
	return c.MemoryBudget
}

func (c *Config) maxHandlers() int64 {
	if c.MaxHandlers < 0 {
		return math.MaxInt64
	}
	return int64(c.MaxHandlers)
}

func (c *Config) maxQueued() int { return max(c.MaxQueuedReplyBytes, 0) }

func (c *Config) readPauseMark() int {
	if c.MaxQueuedReplyBytes <= 0 {
		return readPauseMarkMax
	}
	return max(min(c.MaxQueuedReplyBytes/2, readPauseMarkMax), 1)
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// A Decoder decodes JSON into a Go value, as json.Unmarshal does; see
// Config.Decoder.
type Decoder interface {
	Unmarshal(data []byte, v any) error
}

// DecoderFunc adapts an Unmarshal function (sonic.Unmarshal,
// gojson.Unmarshal, json.Unmarshal…) to a Decoder.
type DecoderFunc func(data []byte, v any) error

// Unmarshal calls f.
func (f DecoderFunc) Unmarshal(data []byte, v any) error { return f(data, v) }
