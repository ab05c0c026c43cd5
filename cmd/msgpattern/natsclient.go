package main

// Calls over NATS (--nats URL): send, emit and bench use natsrpc.Client on
// a connection of their own.

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// dialNATS connects to the NATS server at url. It does not reconnect: a
// command that loses its connection fails its pending calls at once with
// rpc.ErrConnectionLost, as over TCP, rather than waiting for a deadline.
// connectTimeout bounds the connection (0: nats.go's default, 2s).
func dialNATS(url, name string, connectTimeout time.Duration) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.NoReconnect()}
	if connectTimeout > 0 {
		opts = append(opts, nats.Timeout(connectTimeout))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	return nc, nil
}

// natsCaller is a natsrpc.Client on a connection of its own.
type natsCaller struct {
	*natsrpc.Client
	nc *nats.Conn
}

// dialNATSCaller connects to url and returns a client whose calls without
// a deadline have none (send and emit set theirs with --timeout).
func dialNATSCaller(url, name string, timeout time.Duration) (*natsCaller, error) {
	nc, err := dialNATS(url, name, timeout)
	if err != nil {
		return nil, err
	}
	client, err := natsrpc.NewClient(nc, natsrpc.WithCallTimeout(0))
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &natsCaller{Client: client, nc: nc}, nil
}

// Emit publishes the event and waits until the NATS server has it, so that
// the command does not exit with the event still in its buffer, and a
// failure is reported.
func (c *natsCaller) Emit(ctx context.Context, pattern any, data any, opts ...rpc.CallOption) error {
	if err := c.Client.Emit(ctx, pattern, data, opts...); err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); ok {
		return c.nc.FlushWithContext(ctx)
	}
	return c.nc.Flush()
}

// Close closes the client, then its connection.
func (c *natsCaller) Close() error {
	c.Client.Close()
	c.nc.Close()
	return nil
}
