package rpc

import (
	"crypto/tls"
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
	// the deadline. Default 30s.
	Timeout time.Duration
	// MaxConnections caps concurrent connections. Default 1000.
	MaxConnections int
	// RateLimitPerSec and RateLimitBurst limit the messages of one
	// connection (a token bucket): a request over the limit is answered
	// at once with {"status":"error","message":"Rate limit exceeded"} and
	// not run; an event over the limit is dropped. Both are counted.
	// Defaults 100 and 200. A negative RateLimitPerSec turns the limit off.
	RateLimitPerSec int
	RateLimitBurst  int
	// RetryAttempts is how many times a handler is run again after an
	// unexpected error (not an *Error, bad input or a panic), waiting
	// RetryDelay, then twice as long each time, with ±20% jitter, and never
	// past the request's deadline. Defaults 3 and 500ms. A negative
	// RetryAttempts turns retries off; WithoutRetry does so for one pattern.
	RetryAttempts int
	RetryDelay    time.Duration
	// HeartbeatInterval and HeartbeatTimeout find dead peers. Every
	// connection gets TCP keepalive probes after HeartbeatInterval of
	// silence, every HeartbeatInterval, until HeartbeatTimeout; peers that
	// speak msgpattern heartbeats (see HeartbeatPattern) are also dropped
	// when silent for HeartbeatTimeout. Defaults 10s and 30s.
	HeartbeatInterval time.Duration
	HeartbeatTimeout  time.Duration

	// MaxFrameSize is the longest frame accepted, in UTF-16 units for
	// NestJS framing and bytes for line framing. A longer frame closes the
	// connection as soon as its length prefix is read, before it is
	// buffered. Default 16 MiB ([wire.DefaultMaxFrameUnits]).
	MaxFrameSize int
	// FrameTimeout is how long a frame may take to arrive once its first
	// byte has: a peer that stops in the middle of a frame is dropped after
	// it, as NestJS 12 does. Default 30s.
	FrameTimeout time.Duration
	// MaxInFlight caps the requests and events running at once on one
	// connection. When it is reached the server stops reading that
	// connection until one finishes (backpressure: nothing is dropped).
	// Default 256.
	MaxInFlight int
	// MaxDepth is the deepest JSON nesting accepted in a message. Deeper
	// messages are skipped as invalid. Default 1000.
	MaxDepth int
	// GlobalRateLimitPerSec and GlobalRateLimitBurst limit the messages
	// of all connections together, like the per-connection limit. Zero
	// (the default) means no server-wide limit.
	GlobalRateLimitPerSec int
	GlobalRateLimitBurst  int
	// TLSConfig, when set, makes Start serve TLS. Set ClientAuth and
	// ClientCAs for mutual TLS.
	TLSConfig *tls.Config
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
)

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
	setDefault(&c.RateLimitBurst, DefaultRateLimitBurst)
	setDefault(&c.RetryAttempts, DefaultRetryAttempts)
	setDefault(&c.RetryDelay, DefaultRetryDelay)
	setDefault(&c.HeartbeatInterval, DefaultHeartbeatInterval)
	setDefault(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	setDefault(&c.MaxFrameSize, wire.DefaultMaxFrameUnits)
	setDefault(&c.FrameTimeout, DefaultFrameTimeout)
	setDefault(&c.MaxInFlight, DefaultMaxInFlight)
	setDefault(&c.MaxDepth, wire.DefaultMaxDepth)
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}
