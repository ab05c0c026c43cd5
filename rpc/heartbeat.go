package rpc

import (
	"log/slog"
	"net"
	"time"

	"github.com/msgpattern/msgpattern/wire"
)

// HeartbeatPattern is the reserved pattern of application-level heartbeats.
// A peer that speaks them (the msgpattern client does) sends a request
//
//	{"pattern":"msgpattern:heartbeat","data":null,"id":…}
//
// when its connection has been idle for HeartbeatInterval, and the server
// answers at once with {"response":"pong","isDisposed":true,"id":…}; the
// peer closes a connection whose pong does not come within
// HeartbeatTimeout. Once a connection has sent one heartbeat, the server
// expects it to keep doing so: a connection silent for HeartbeatTimeout is
// then closed. NestJS peers never send heartbeats and are never sent any,
// so they see nothing of this; dead NestJS peers are found by TCP
// keepalive, which the server enables on every connection.
const HeartbeatPattern = "msgpattern:heartbeat"

var heartbeatPatternJSON = []byte(`"` + HeartbeatPattern + `"`)

var pong = []byte(`"pong"`)

// answerHeartbeat replies to a ping and holds the peer to heartbeats from
// now on.
func (c *conn) answerHeartbeat(id []byte) {
	c.heartbeats = true
	// Parsing the ping and flushing the pong grow the reader's stack as a
	// handler does: an idle connection then waits on a fresh goroutine
	// (idle.go), not on a stack doubled every HeartbeatInterval.
	c.ranHandler = true
	s := c.srv
	if !s.allow(&c.peer, c.readAt) {
		// A ping is a message like any other: it cannot be used to pass
		// the rate limit (it is refused as a request would be).
		s.stats.rateLimited.Add(1)
		c.writeRaw(func(dst []byte) []byte { return wire.AppendError(dst, c.framing, rateLimitedError, id) })
		s.limit.log(s.log, slog.LevelWarn, "rate limit exceeded", "remote", c.peer.addr, "transport", c.peer.transport)
		return
	}
	s.stats.pings.Add(1)
	c.writeRaw(func(dst []byte) []byte { return wire.AppendValue(dst, c.framing, pong, id, true) })
	c.srv.stats.pongs.Add(1)
}

// keepAlive derives TCP keepalive from the heartbeat settings: probes start
// after HeartbeatInterval of silence, repeat every HeartbeatInterval, and
// give up once HeartbeatTimeout has passed without an answer. Kernels count
// whole seconds (Go rounds up) and Linux takes at most 127 probes and 32767
// seconds: asked for more, setsockopt fails and the kernel's own count (9)
// stays, so a long timeout lengthens the interval instead. A negative
// interval leaves keepalive's timing to the operating system, a negative
// timeout its probe count.
func keepAlive(cfg *Config) net.KeepAliveConfig {
	const (
		maxProbes = 127
		maxStep   = 32767 * time.Second
	)
	iv, to := cfg.HeartbeatInterval, cfg.HeartbeatTimeout
	if iv <= 0 {
		return net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}
	}
	iv = min(iv, maxStep)
	if to <= 0 {
		return net.KeepAliveConfig{Enable: true, Idle: iv, Interval: iv, Count: -1}
	}
	step := ceilSecond(iv)
	if to > step*maxProbes {
		step = min(ceilSecond((min(to, maxStep*maxProbes)+maxProbes-1)/maxProbes), maxStep)
	}
	count := min((min(to, maxStep*maxProbes)+step-1)/step, maxProbes)
	return net.KeepAliveConfig{Enable: true, Idle: iv, Interval: step, Count: int(max(1, count))}
}

// ceilSecond rounds d (at most a few days) up to whole seconds.
func ceilSecond(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}

// setKeepAlive enables TCP keepalive on nc, or on the TCP connection under
// a TLS one.
func setKeepAlive(nc net.Conn, cfg *Config) {
	if tc, ok := netConnBeneath(nc).(*net.TCPConn); ok {
		tc.SetKeepAliveConfig(keepAlive(cfg))
	}
}
