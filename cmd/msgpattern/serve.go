package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/demo"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/otelrpc"
	"github.com/msgpattern/msgpattern/prommetrics"
	"github.com/msgpattern/msgpattern/rpc"
)

// serveCommand runs the demo server until SIGINT or SIGTERM.
type serveCommand struct {
	addr        string
	metricsAddr string
	rateLimit   int
	verbose     bool
	grace       time.Duration
	logFormat   string
	limits      rpc.Config // the resource bounds set by flags; zero means the library's default
	tls         serverTLS
	tlsCfg      *tls.Config

	natsURL    string // serve over the NATS server at this URL too
	natsServer string // start a NATS server listening here, and serve over it
	natsQueue  string
	service    string
}

const serveUsage = `Usage: msgpattern serve [flags]

Serve the demo patterns (ping, echo, sum, 42, {"cmd":"sum2","role":"math"},
{"cmd":"nested","opts":{"a":"x","z":1}}, stream3, fail, failobj, boom, slow,
events; event evt) until SIGINT or SIGTERM, then
shut down gracefully, for --grace at most; a second SIGINT or SIGTERM stops
it at once. With --tls-cert and --tls-key, serve TLS (mutual TLS with
--tls-client-ca). With --metrics-addr, also serve over HTTP the server's
metrics (Prometheus at /metrics, the JSON snapshot at /metrics.json) and
its health at /healthz: 200 "serving", then 503 "draining" once the
shutdown has begun.

With --nats URL, also serve them over NATS (NestJS's NATS transport), in the
queue group --nats-queue: every instance started with the same URL and
group shares the requests, and is listed by 'nats micro ls' under
--service. With --nats-server ADDR, start a NATS server in this process,
listening on ADDR (port 0 for a free one; its URL is logged as "nats server
listening on URL"), and serve over it: other instances join with --nats
URL. On shutdown the NATS subscriptions are drained first (new requests go
to the other instances, those received are answered), the embedded NATS
server stops last, once its clients have left (1 s at most).

The log goes to stderr, as text or, with --log-format json, one JSON
object a line.

Exit status: 0 after a graceful shutdown; 1 the server could not start
(address in use, NATS unreachable…) or did not shut down cleanly; 2 usage
error; 130 (SIGINT) or 143 (SIGTERM): stopped at once by a second signal.

Tracing: with OTEL_TRACES_EXPORTER set (otlp, console; none turns it off)
or an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT, then otlp), serve makes an
OpenTelemetry span per request (server) and per event (consumer), the child
of the traceparent that a traced client — send, emit, bench, a NestJS 12
ClientProxy — put in the request's metadata (or, over NATS, its headers),
and adds trace_id and span_id to log records with a traced context. The
console exporter writes each span as it ends on stdout, one JSON object a
line. Also honoured: OTEL_SERVICE_NAME (default msgpattern) and
OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG
(default parentbased_always_on), OTEL_PROPAGATORS (default
tracecontext,baggage), OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf or grpc)
and the other OTEL_EXPORTER_OTLP_*, OTEL_SDK_DISABLED. Spans are flushed at
exit, for 5s at most. Without OTEL_TRACES_EXPORTER and an OTLP endpoint,
nothing is traced.

Resource bounds (what peers can make the server spend) default to the
library's; each flag overrides one (see docs/SERVER.md, "Limits"). Sizes take a
K, M or G suffix (powers of 1024); a negative value turns a bound off.

Examples:
  msgpattern serve
  msgpattern serve --addr 127.0.0.1:4061 --metrics-addr 127.0.0.1:9090 -v
  msgpattern serve --max-connections 200 --memory-budget 256M --write-timeout 5s
  msgpattern serve --tls-cert server.pem --tls-key server-key.pem --log-format json
  msgpattern serve --addr :4061 --nats-server 127.0.0.1:4222     # instance 1 + NATS
  msgpattern serve --addr :4062 --nats nats://127.0.0.1:4222     # instance 2
  OTEL_TRACES_EXPORTER=console msgpattern serve > spans.jsonl
  OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 OTEL_SERVICE_NAME=demo msgpattern serve
`

func serve(args []string) int {
	var c serveCommand
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", envOr("MSGPATTERN_ADDR", ":4061"), "address to listen on (env MSGPATTERN_ADDR)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "serve metrics and health over HTTP, unauthenticated, on this host:port (/metrics Prometheus, /metrics.json JSON, /healthz); "+
		"without a host (:9090) on every interface, 127.0.0.1:9090 for this machine only; off when empty")
	fs.IntVar(&c.rateLimit, "rate-limit", -1, "requests per second per connection (burst: twice that, at least 200), 0 or -1 for none (the library's default is 100)")
	fs.BoolVar(&c.verbose, "v", false, "log connections, and the embedded NATS server's notices (debug level)")
	nonNegativeDuration(fs, &c.grace, "grace", 10*time.Second, "how long shutdown waits for in-flight requests")
	c.logFormat = "text"
	fs.Var(choiceFlag{&c.logFormat, []string{"text", "json"}}, "log-format", "log as text, or as JSON (one object a line)")
	c.tls.bind(fs)
	fs.StringVar(&c.natsURL, "nats", "", "also serve over the NATS server at this `URL` (nats://host:port)")
	fs.StringVar(&c.natsServer, "nats-server", "", "start a NATS server in this process listening on `ADDR` (host:port, port 0 for a free one) and serve over it too")
	fs.StringVar(&c.natsQueue, "nats-queue", natsrpc.DefaultQueueGroup, "NATS queue group `NAME`: instances in one group share the requests; empty for none (each gets every request)")
	fs.StringVar(&c.service, "service", "msgpattern", "service `NAME` in NATS micro discovery (nats micro ls)")
	l := &c.limits
	*l = *rpc.DefaultConfig() // flags show, and start from, the library's defaults
	fs.IntVar(&l.MaxConnections, "max-connections", l.MaxConnections, "concurrent connections")
	fs.IntVar(&l.MaxInFlight, "max-in-flight", l.MaxInFlight, "requests running at once on one connection")
	fs.IntVar(&l.MaxHandlers, "max-handlers", l.MaxHandlers, "handlers running off their connection's reader over TCP, and workers of the NATS server (each its own cap)")
	fs.DurationVar(&l.WriteTimeout, "write-timeout", l.WriteTimeout, "drop a peer that takes no reply bytes for this long")
	fs.Var(byteSize{&l.MaxQueuedReplyBytes}, "max-queued-reply", "reply bytes queued for one peer before it is dropped")
	fs.Var(byteSize64{&l.MemoryBudget}, "memory-budget", "bytes held for incoming frames and queued replies, server-wide (half of GOMEMLIMIT, at least 64M, when it is set)")
	fs.DurationVar(&l.EvictIdleAfter, "evict-idle-after", l.EvictIdleAfter, "at max-connections, evict a connection idle this long for a new one")
	fs.DurationVar(&l.FrameTimeout, "frame-timeout", l.FrameTimeout, "drop a peer silent this long in the middle of a frame")
	fs.IntVar(&l.MinFrameRate, "min-frame-rate", l.MinFrameRate, "bytes/s a frame must average once it took longer than frame-timeout")
	fs.Var(byteSize{&l.MaxFrameSize}, "max-frame-size", "longest frame accepted, in UTF-16 units")
	setUsage(fs, serveUsage)
	if _, code, ok := parseCommand(fs, args, "no arguments", 0, 0); !ok {
		return code
	}
	if err := c.checkNATSFlags(fs); err != nil {
		return usageErrorf("serve", "%v", err)
	}
	var err error
	if c.tlsCfg, err = c.tls.config(); err != nil {
		return usageErrorf("serve", "%v", err)
	}
	// Before anything listens, so that a signal never kills a started server.
	ctx, sigs, stop := notifySignals()
	defer stop()
	return c.run(ctx, sigs.Again())
}

// checkNATSFlags rejects NATS flags that do not go together.
func (c *serveCommand) checkNATSFlags(fs *flag.FlagSet) error {
	if c.natsURL != "" && c.natsServer != "" {
		return errors.New("give --nats or --nats-server, not both (--nats-server serves over the server it starts)")
	}
	if c.natsURL == "" && c.natsServer == "" {
		var err error
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "nats-queue" || f.Name == "service" {
				err = fmt.Errorf("--%s needs --nats or --nats-server", f.Name)
			}
		})
		return err
	}
	if natsrpc.ValidateServiceName(c.service) != nil {
		return fmt.Errorf("--service %q: use letters, digits, '-' and '_' (a NATS micro service name)", c.service)
	}
	if c.natsServer != "" {
		if _, _, err := net.SplitHostPort(c.natsServer); err != nil {
			return fmt.Errorf("--nats-server %q: want host:port (port 0 for a free one)", c.natsServer)
		}
	}
	return nil
}

// logger is the server's log, on stderr, in the --log-format.
func (c *serveCommand) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if c.verbose {
		opts.Level = slog.LevelDebug
	}
	if c.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// say prints a line for the person at the terminal; with --log-format
// json, where stderr is for machines, it logs msg with args instead.
func (c *serveCommand) say(log *slog.Logger, text, msg string, args ...any) {
	if c.logFormat == "json" {
		log.Info(msg, args...)
		return
	}
	fmt.Fprint(os.Stderr, text)
}

// fail reports why serve cannot go on, with a hint if any (a line ending in
// a newline): as text on stderr, or as log records with --log-format json,
// where a log pipeline needs this line most.
func (c *serveCommand) fail(log *slog.Logger, err error, hint string) {
	if c.logFormat == "json" {
		log.Error("cannot serve", "err", err)
		if hint != "" {
			log.Info(strings.TrimSuffix(hint, "\n"))
		}
		return
	}
	fmt.Fprintln(os.Stderr, "msgpattern:", err)
	fmt.Fprint(os.Stderr, hint)
}

// run serves until ctx ends, then shuts down gracefully, or at once when
// a signal comes on again.
func (c *serveCommand) run(ctx context.Context, again <-chan os.Signal) int {
	log := c.logger(os.Stderr)
	// With OTEL_TRACES_EXPORTER or an OTLP endpoint set (otel.go): a span
	// per request and event, trace_id and span_id in records logged with a
	// traced context, console spans on stdout. The spans are flushed last
	// (deferred first), after the servers have stopped.
	tr := startTracing(os.Stdout, func(err error) { log.Warn("opentelemetry", "err", err) })
	defer tr.shutdown()
	if tr != nil {
		log = slog.New(otelrpc.LogHandler(log.Handler()))
		log.Info("tracing with OpenTelemetry", "exporter", tr.exporter)
	}

	// The embedded NATS server first, and stopped last: the instances
	// served over it leave before it does.
	var embedded *embeddedNATS
	graceful := false // the shutdown was graceful: the embedded NATS server may linger
	natsURL := c.natsURL
	if c.natsServer != "" {
		var err error
		if embedded, err = startNATSServer(c.natsServer, log); err != nil {
			c.fail(log, err, "")
			return 1
		}
		// After a graceful shutdown only, the callers may take their last
		// replies before it stops; a second signal stops it at once.
		defer func() { embedded.shutdown(graceful) }()
		natsURL = embedded.url
		c.say(log, "nats server listening on "+natsURL+"\n", "nats server listening", "url", natsURL)
	}

	cfg := c.limits
	// 0 is no limit, as bench's --rate 0 (the library would read it as
	// "unset", its default of 100/s).
	// The burst is the library's: twice the rate, at least 200.
	cfg.Addr, cfg.RateLimitPerSec, cfg.RateLimitBurst = c.addr, c.rateLimit, 0
	if c.rateLimit <= 0 {
		cfg.RateLimitPerSec, cfg.RateLimitBurst = -1, 0
	}
	cfg.TLSConfig = c.tlsCfg
	cfg.Introspection = true // msgpattern list, msgpattern health
	srv := rpc.NewServer(&cfg, log)
	tr.serve(srv)
	demo.Register(srv)
	if err := srv.Start(); err != nil {
		c.fail(log, err, "")
		return 1
	}
	var ns *natsrpc.Server
	if natsURL != "" {
		// Its drain is hooked to srv.Shutdown.
		var err error
		ns, err = natsrpc.Connect(srv, natsURL, c.natsOptions(log)...)
		if err != nil {
			srv.Close()
			hint := ""
			if embedded == nil {
				hint = fmt.Sprintf("hint: is a NATS server listening at %s? Or start one in this process with --nats-server ADDR\n", natsURL)
			}
			c.fail(log, err, hint)
			return 1
		}
		queue := c.natsQueue
		if queue == "" {
			queue = "(none)"
		}
		log.Info("serving over NATS", "url", natsURL, "queue", queue, "service", c.service, "subjects", len(ns.Subjects()))
	}
	var draining atomic.Bool // /healthz: the shutdown has begun
	var metrics *http.Server
	if c.metricsAddr != "" {
		ln, err := net.Listen("tcp", c.metricsAddr)
		if err != nil {
			srv.Close()
			c.fail(log, fmt.Errorf("metrics: %w", err), "")
			return 1
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", prommetrics.Handler(srv))
		mux.Handle("GET /metrics.json", rpc.MetricsHandler(srv))
		mux.Handle("GET /healthz", healthHandler(&draining))
		metrics = serveMetrics(ln, mux, func(err error) { log.Error("metrics server stopped", "err", err) })
		base := "http://" + ln.Addr().String()
		log.Info("metrics over HTTP", "prometheus", base+"/metrics", "json", base+"/metrics.json", "health", base+"/healthz")
	}
	c.say(log, c.tryHint(srv.Addr().String()), "serving the demo patterns", "addr", srv.Addr().String(), "tls", c.tlsCfg != nil)
	if natsURL != "" {
		c.say(log, fmt.Sprintf("and over NATS at %s:\n  msgpattern send --nats %[1]s ping\n", natsURL), "serving the demo patterns over NATS", "url", natsURL)
	}

	<-ctx.Done()
	draining.Store(true)
	log.Info("shutting down", "grace", c.grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), c.grace)
	defer cancel()
	// A second signal cuts the grace short: Shutdown closes everything at
	// once when sctx ends.
	hurried := make(chan os.Signal, 1) // the second signal, if any; closed once known
	done := make(chan struct{})
	go func() {
		defer close(hurried)
		select {
		case sig := <-again:
			log.Warn("stopping at once", "signal", sig.String())
			cancel()
			hurried <- sig
		case <-done:
		}
	}()
	code := shutdown(sctx, log, srv, ns, metrics, natsURL)
	close(done)
	if sig, ok := <-hurried; ok {
		code = signalCode(sig)
	}
	graceful = code == 0
	if embedded != nil {
		log.Info("stopping the NATS server")
	}
	return code // the embedded NATS server, if any, stops now (deferred)
}

// shutdown stops the server, its NATS subscriptions and its metrics
// server, gracefully until ctx ends, and returns the exit code.
func shutdown(ctx context.Context, log *slog.Logger, srv *rpc.Server, ns *natsrpc.Server, metrics *http.Server, natsURL string) int {
	code := 0
	if ns != nil && !ns.Conn().IsConnected() {
		// Draining needs the NATS server, which is gone: drop the
		// subscriptions rather than wait for it until the grace ends.
		log.Warn("NATS connection down: leaving without draining", "url", natsURL)
		ns.Close()
	}
	// The RPC server first, so that metrics (and /healthz, "draining") can
	// be scraped while it drains; its shutdown drains the NATS
	// subscriptions too.
	switch err := srv.Shutdown(ctx); {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded):
		// The grace ran out. If handlers were still running they were cut
		// off, their callers seeing their connection close: not clean. If
		// only connections were closing (peers slow to read their last
		// replies and close), nothing was lost.
		if cut := srv.GetMetrics().ErrorByKind.ShutdownCut; cut > 0 {
			log.Warn("grace period over: handlers still running were cut off", "cut", cut)
			code = 1
		} else {
			log.Info("grace period over: closed the connections still closing")
		}
	case errors.Is(err, context.Canceled): // a second signal: its own exit code
	default:
		log.Error("shutdown", "err", err)
		code = 1
	}
	if metrics != nil {
		if err := metrics.Shutdown(ctx); err != nil {
			metrics.Close()
		}
	}
	return code
}

// healthHandler answers /healthz: 200 "serving", or 503 "draining" once
// the shutdown has begun, so that a load balancer stops sending new work.
func healthHandler(draining *atomic.Bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "draining")
			return
		}
		fmt.Fprintln(w, "serving")
	})
}

// tryHint shows how to call the server listening on addr (dialHost).
func (c *serveCommand) tryHint(addr string) string {
	host, p := dialHost(addr), port(addr)
	if c.tlsCfg == nil {
		return fmt.Sprintf("serving the demo patterns on %s; try:\n  msgpattern send --addr %s ping\n"+
			"  printf '{\"pattern\":\"ping\",\"data\":null,\"id\":1}\\n' | nc -q1 %s %s\n", addr, net.JoinHostPort(host, p), host, p)
	}
	return fmt.Sprintf("serving the demo patterns over TLS on %s; try:\n  msgpattern send --addr %s --cacert CA.pem ping\n"+
		"  (--cacert: the certificate of the CA that issued --tls-cert, unless the system trusts it)\n", addr, net.JoinHostPort(host, p))
}

// dialHost is the host a client on this machine dials to reach a listener
// on addr: localhost for every interface or the usual loopback address
// (localhost resolves to 127.0.0.1 and ::1), else the listening host.
func dialHost(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return "localhost"
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsUnspecified() || ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback)) {
		return "localhost"
	}
	return host
}

// natsOptions are the natsrpc options the flags set; the connection's
// losses and recoveries are logged.
func (c *serveCommand) natsOptions(log *slog.Logger) []natsrpc.Option {
	opts := []natsrpc.Option{
		natsrpc.WithService(c.service, "1.0.0", "msgpattern demo patterns"),
		natsrpc.WithNATSOptions(
			nats.Name("msgpattern serve"),
			nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
				if !nc.IsClosed() { // not our own shutdown
					log.Warn("NATS disconnected; reconnecting", "err", err)
				}
			}),
			nats.ReconnectHandler(func(nc *nats.Conn) {
				log.Info("NATS reconnected", "url", nc.ConnectedUrl())
			}),
		),
	}
	if c.natsQueue == "" {
		return append(opts, natsrpc.WithoutQueueGroup())
	}
	return append(opts, natsrpc.WithQueueGroup(c.natsQueue))
}

func port(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i+1:]
		}
	}
	return addr
}
