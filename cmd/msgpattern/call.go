package main

// What send and emit share: their flags, their parsing, the client they
// call through (TCP or NATS), and how a failed call is reported.

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// Exit codes of send, emit and bench (serve exits 1 when it cannot start).
const (
	exitOK     = 0
	exitRemote = 1 // the server answered with an error, or no handler matched
	exitFailed = 1 // bench: more requests failed than --max-error-rate allows
	exitUsage  = 2 // bad flags or arguments
	exitLocal  = 2 // no reply: dial failure, timeout, lost connection
	// 130 and 143: interrupted by SIGINT or SIGTERM (exitSIGINT, exitSIGTERM).
)

// defaultAddr is where send, emit and bench connect without --addr.
func defaultAddr() string { return envOr("MSGPATTERN_ADDR", "localhost:4061") }

// defaultTimeout bounds a call of send or emit, and each request of bench.
const defaultTimeout = 10 * time.Second

// callFlags are the flags that send and emit share.
type callFlags struct {
	pattern  any
	data     json.RawMessage
	addr     string
	nats     string // call over the NATS server at this URL instead of addr
	timeout  time.Duration
	verbose  bool
	metadata metadataFlag
	tls      clientTLS
	tlsCfg   *tls.Config
}

func (c *callFlags) bind(fs *flag.FlagSet, verbose string) {
	fs.StringVar(&c.addr, "addr", defaultAddr(), "server address host:port; the default is $MSGPATTERN_ADDR, else localhost:4061")
	fs.StringVar(&c.nats, "nats", "", "call over the NATS server at this `URL` (nats://host:port) instead of TCP to --addr")
	nonNegativeDuration(fs, &c.timeout, "timeout", defaultTimeout, "give up after this long, connecting included; 0 for no limit")
	fs.BoolVar(&c.verbose, "v", false, verbose)
	fs.Var(&c.metadata, "metadata", "add `key=value` to the request's metadata (NestJS 12), e.g. traceparent=…; repeatable")
	c.tls.bind(fs)
}

// parseCall parses the flags and PATTERN [DATA] arguments of send and emit
// into c. ok is false when the command should exit at once with code.
func (c *callFlags) parseCall(fs *flag.FlagSet, args []string) (code int, ok bool) {
	pos, code, ok := parseCommand(fs, args, "PATTERN [DATA]", 1, 2)
	if !ok {
		return code, false
	}
	var err error
	if c.tlsCfg, err = c.tls.config(); err != nil {
		return usageErrorf(fs.Name(), "%v", err), false
	}
	if c.pattern, err = parsePattern(pos[0]); err != nil {
		return usageError(err), false
	}
	if c.data, err = parseData(pos[1:], os.Stdin); err != nil {
		return usageError(err), false
	}
	return exitOK, true
}

// execute runs send or emit: it parses args into c, then hands call a
// client — over TCP to c.addr, or over NATS to c.nats — the command's
// context (ended by SIGINT or SIGTERM) and the call's (ended also by
// --timeout).
func (c *callFlags) execute(name, usageText, verbose string, args []string,
	call func(ctx, callCtx context.Context, client caller) int) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	c.bind(fs, verbose)
	setUsage(fs, usageText)
	if code, ok := c.parseCall(fs, args); !ok {
		return code
	}
	ctx, _, stop := notifySignals()
	defer stop()
	// With OTEL_TRACES_EXPORTER or an OTLP endpoint set (otel.go): the
	// call in a client (emit: producer) span, its traceparent in the
	// request's metadata; the spans flushed last, after the client closed.
	tr := startTracing(os.Stderr, warnStderr)
	defer tr.shutdown()
	// --timeout counts from here: connecting (over NATS) included.
	callCtx, cancel := c.withTimeout(ctx)
	defer cancel()
	client, err := c.client(callCtx, name)
	if err != nil {
		return c.clientFailed(ctx, name, err)
	}
	defer client.Close()
	return call(ctx, callCtx, tr.wrap(client))
}

// clientFailed reports that no client could be made (over NATS: the
// connection failed) and returns the exit code: 130 or 143 when a signal
// ended ctx meanwhile, exitLocal otherwise.
func (c *callFlags) clientFailed(ctx context.Context, cmd string, err error) int {
	return c.localFailure(ctx, cmd, err, true)
}

// caller is what send and emit call through: the TCP client, or the NATS
// one (--nats).
type caller interface {
	rpc.Caller
	Close() error
}

// client returns a client that logs nothing: over NATS when --nats is set
// (connected now, unless ctx ends first), else over TCP to c.addr
// (connected on first use).
func (c *callFlags) client(ctx context.Context, cmd string) (caller, error) {
	if c.nats != "" {
		client, err := dialNATS(ctx, c.nats, "msgpattern "+cmd, c.timeout, c.tlsCfg)
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("no connection to %s within %s (--timeout)", c.nats, c.timeout)
		} else if err != nil {
			return nil, err
		}
		return client, nil
	}
	opts := []rpc.ClientOption{rpc.WithClientLogger(slog.New(slog.DiscardHandler))}
	if c.timeout > 0 {
		opts = append(opts, rpc.WithDialTimeout(c.timeout))
	}
	if c.tlsCfg != nil {
		opts = append(opts, rpc.WithTLS(c.tlsCfg))
	}
	return rpc.NewClient(c.addr, opts...)
}

// target names where the calls go, for messages.
func (c *callFlags) target() string {
	if c.nats != "" {
		return c.nats
	}
	return c.addr
}

func (c *callFlags) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.timeout)
}

func (c *callFlags) callOptions() []rpc.CallOption {
	if len(c.metadata) == 0 {
		return nil
	}
	return []rpc.CallOption{rpc.WithMetadata(c.metadata)}
}

// failed reports a call's error (not a timeout) and returns the exit code:
// exitRemote for an error the server sent, 130 or 143 when a signal ended
// ctx, exitLocal for the others.
func (c *callFlags) failed(ctx context.Context, cmd string, err error) int {
	if remote, ok := errors.AsType[*rpc.Error](err); ok {
		fmt.Fprintf(os.Stderr, "error: %s\n", indent(remote.Payload))
		if errors.Is(err, rpc.ErrNoHandler) {
			fmt.Fprintf(os.Stderr, "hint: no handler on %s matches this pattern; check its spelling and type "+
				"(42 and \"42\" are the same pattern, an object's key order does not matter)\n", c.target())
		}
		return exitRemote
	}
	return c.localFailure(ctx, cmd, err, false)
}

// localFailure reports an error of our side (connecting, no reply) and
// returns the exit code: 130 or 143 when a signal ended ctx meanwhile,
// exitLocal otherwise. connecting says no client could be made, which over
// NATS means its server did not answer.
func (c *callFlags) localFailure(ctx context.Context, cmd string, err error, connecting bool) int {
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "msgpattern: interrupted")
		return interruptCode(ctx)
	}
	fmt.Fprintf(os.Stderr, "msgpattern: %s: %v\n", cmd, err)
	printConnectHint(os.Stderr, &c.tls, c.tlsCfg, c.addr, c.nats, connecting, err, err)
	return exitLocal
}

// printConnectHint prints to w what may be wrong when a command failed
// with err for want of a connection, if it can tell: a TLS mismatch (from
// tlsErr: err as the rpc client reports it), a NATS server that did not
// answer (natsDown), or no server listening at addr.
func printConnectHint(w io.Writer, t *clientTLS, cfg *tls.Config, addr, natsURL string, natsDown bool, err, tlsErr error) {
	if hint := t.hint(tlsErr, cfg); hint != "" {
		fmt.Fprintln(w, "hint:", hint)
	} else if natsDown && natsURL != "" {
		fmt.Fprintf(w, "hint: is a NATS server listening at %s? Set its URL with --nats\n", natsURL)
	} else if op, ok := errors.AsType[*net.OpError](err); ok && op.Op == "dial" {
		fmt.Fprintf(w, "hint: is a server listening on %s? Set the address with --addr or MSGPATTERN_ADDR\n", addr)
	}
}

func isRemote(err error) bool {
	_, ok := errors.AsType[*rpc.Error](err)
	return ok
}

func indent(raw json.RawMessage) string {
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") != nil {
		return string(raw)
	}
	return buf.String()
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// usageError reports a bad PATTERN or DATA.
func usageError(err error) int {
	fmt.Fprintln(os.Stderr, "msgpattern:", err)
	return exitUsage
}
