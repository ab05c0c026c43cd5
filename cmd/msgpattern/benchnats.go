package main

// bench --nats: loadtest.RunCalls over NATS with natsrpc.Client. Each of
// -c clients has a NATS connection of its own, and -p goroutines that call
// Send in a loop; the phases (warmup, -n or -d, drain), pacing (--rate),
// timeouts, progress reports and the Result are loadtest's, so that the
// summary is printed the same way.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"time"

	"github.com/msgpattern/msgpattern/loadtest"
	"github.com/msgpattern/msgpattern/rpc"
)

// runNATS performs a run over the NATS server at url, as loadtest.Run does
// over TCP: cfg.Addr and cfg.TLS are not used (tlsCfg is the NATS
// connections'), cfg.Pattern and cfg.Data are the request's raw JSON.
func runNATS(ctx context.Context, url string, tlsCfg *tls.Config, cfg loadtest.Config) (loadtest.Result, error) {
	clients := make([]*natsCaller, 0, max(cfg.Connections, 1))
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for range cap(clients) {
		c, err := dialNATS(url, "msgpattern bench", 10*time.Second, tlsCfg)
		if err != nil {
			return loadtest.Result{}, err
		}
		clients = append(clients, c)
	}
	pattern, data := json.RawMessage(cfg.Pattern), json.RawMessage(cfg.Data)
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	return loadtest.RunCalls(ctx, cfg, func(ctx context.Context, conn int) string {
		return errorKind(clients[conn].Send(ctx, pattern, data, nil))
	})
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
