package rpc

import (
	"log/slog"
	"net"

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
// give up once HeartbeatTimeout has passed without an answer.
func keepAlive(cfg *Config) net.KeepAliveConfig {
	return net.KeepAliveConfig{
		Enable:   true,
		Idle:     cfg.HeartbeatInterval,
		Interval: cfg.HeartbeatInterval,
		Count:    max(1, int((cfg.HeartbeatTimeout+cfg.HeartbeatInterval-1)/cfg.HeartbeatInterval)),
	}
}

// setKeepAlive enables TCP keepalive on nc, or on the TCP connection under
// a TLS one.
func setKeepAlive(nc net.Conn, cfg *Config) {
	if tc, ok := netConnBeneath(nc).(*net.TCPConn); ok {
		tc.SetKeepAliveConfig(keepAlive(cfg))
	}
}
