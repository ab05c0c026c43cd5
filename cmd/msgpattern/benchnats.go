package main

// bench --nats: loadtest.RunCalls over NATS with natsrpc.Client. Each of
// -c clients has a NATS connection of its own, and -p goroutines that call
// Send in a loop; the phases (warmup, -n or -d, drain), pacing (--rate),
// timeouts, progress reports and the Result are loadtest's, so that the
// summary is printed the same way. Traced bench over TCP (OTEL_*
// environment, otel.go) runs the same way with rpc.Client.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/msgpattern/msgpattern/loadtest"
	"github.com/msgpattern/msgpattern/rpc"
)

// runNATS performs a run over the NATS server at url, as loadtest.Run does
// over TCP: cfg.Addr and cfg.TLS are not used (tlsCfg is the NATS
// connections'), cfg.Pattern and cfg.Data are the request's raw JSON. With
// tracing on, each request is a call traced by tr.
func runNATS(ctx context.Context, url string, tlsCfg *tls.Config, cfg loadtest.Config, tr *tracing) (loadtest.Result, error) {
	clients := make([]caller, 0, max(cfg.Connections, 1))
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for range cap(clients) {
		c, err := dialNATS(ctx, url, "msgpattern bench", 10*time.Second, tlsCfg)
		if err != nil {
			return loadtest.Result{}, err
		}
		clients = append(clients, tr.wrap(c))
	}
	return runCallers(ctx, cfg, clients)
}

// runTCPTraced performs a traced run over TCP: -c rpc.Clients (a
// connection each) to cfg.Addr, with -p calls in flight on each, every one
// in a client span that sends its traceparent in the request's metadata —
// which loadtest.Run's raw frames cannot carry.
func runTCPTraced(ctx context.Context, cfg loadtest.Config, tr *tracing) (loadtest.Result, error) {
	clients := make([]caller, 0, max(cfg.Connections, 1))
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	opts := []rpc.ClientOption{rpc.WithClientLogger(slog.New(slog.DiscardHandler)), rpc.WithEagerConnect(),
		rpc.WithDialTimeout(10 * time.Second)}
	if cfg.TLS != nil {
		opts = append(opts, rpc.WithTLS(cfg.TLS))
	}
	for range cap(clients) {
		c, err := connectUnder(ctx, func() (*rpc.Client, error) { return rpc.NewClient(cfg.Addr, opts...) })
		if err != nil {
			return loadtest.Result{}, err
		}
		clients = append(clients, tr.wrap(c))
	}
	return runCallers(ctx, cfg, clients)
}

// runCallers performs a run with loadtest.RunCalls, the requests of
// connection conn made by callers[conn]; cfg.Pattern and cfg.Data are the
// request's raw JSON. A caller whose connection is gone makes no more
// calls, so that a run whose server went away ends, as loadtest.Run's.
func runCallers(ctx context.Context, cfg loadtest.Config, callers []caller) (loadtest.Result, error) {
	pattern, data := json.RawMessage(cfg.Pattern), json.RawMessage(cfg.Data)
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	return loadtest.RunCalls(ctx, cfg, func(ctx context.Context, conn int) (string, error) {
		err := callers[conn].Send(ctx, pattern, data, nil)
		return errorKind(err), connGone(err)
	})
}

// connGone returns err when it says that the call's connection is gone:
// lost (natsrpc.Client's does not reconnect), or not redialled
// (rpc.Client's; loadtest.Run never redials either); nil otherwise.
func connGone(err error) error {
	if err == nil || isRemote(err) { // an answer, NATS "no responders" included
		return nil
	}
	if errors.Is(err, rpc.ErrConnectionLost) || errors.Is(err, rpc.ErrUnavailable) || errors.Is(err, rpc.ErrClientClosed) {
		return err
	}
	return nil
}

// errorKind is the loadtest kind of a call's error, "" for none: error
// replies as loadtest classifies them; failures without a reply (lost
// connection, the run's end, a timeout) are no_reply, and RunCalls counts
// a call past --timeout as deadline_exceeded.
func errorKind(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, rpc.ErrNoHandler) {
		return loadtest.KindNoHandler
	}
	if remote, ok := errors.AsType[*rpc.Error](err); ok {
		return loadtest.ErrorKind(remote.Payload)
	}
	return loadtest.KindNoReply
}
