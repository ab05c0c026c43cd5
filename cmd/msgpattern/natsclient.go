package main

// Calls over NATS (--nats URL): send, emit and bench use natsrpc.Client on
// a connection of their own.

import (
	"context"
	"crypto/tls"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// natsFlushTimeout bounds the wait for the NATS server to have an event
// when the call has no deadline (--timeout 0), as nats.Conn.Flush does.
const natsFlushTimeout = 10 * time.Second

// natsCaller is a natsrpc.Client owning its connection.
type natsCaller struct{ *natsrpc.Client }

// dialNATS connects to the NATS server at url (with TLS when tlsCfg is
// set) and returns a client whose calls without a deadline have none:
// send and emit set theirs with --timeout, bench with its own. The
// connection does not reconnect: a command that loses it fails its pending
// calls at once with rpc.ErrConnectionLost, as over TCP, rather than
// waiting for a deadline. connectTimeout bounds the connection (0:
// nats.go's default, 2s); so does ctx, whose end (a signal) returns
// ctx.Err() at once.
func dialNATS(ctx context.Context, url, name string, connectTimeout time.Duration, tlsCfg *tls.Config) (*natsCaller, error) {
	conn := []natsrpc.Option{natsrpc.WithNATSOptions(nats.Name(name), nats.NoReconnect())}
	if connectTimeout > 0 {
		conn = append(conn, natsrpc.WithNATSOptions(nats.Timeout(connectTimeout)))
	}
	if tlsCfg != nil {
		conn = append(conn, natsrpc.TLS(tlsCfg))
	}
	c, err := connectUnder(ctx, func() (*natsrpc.Client, error) {
		return natsrpc.Dial(url, natsrpc.WithConnOptions(conn...), natsrpc.WithCallTimeout(0))
	})
	if err != nil {
		return nil, err
	}
	return &natsCaller{c}, nil
}

// Emit publishes the event and waits until the NATS server has it, so that
// the command does not exit with the event still in its buffer, and a
// failure is reported.
func (c *natsCaller) Emit(ctx context.Context, pattern any, data any, opts ...rpc.CallOption) error {
	if err := c.Client.Emit(ctx, pattern, data, opts...); err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok { // Flush wants one
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, natsFlushTimeout)
		defer cancel()
	}
	return c.Flush(ctx)
}
