package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/msgpattern/msgpattern/internal/demo"
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
}

const serveUsage = `Usage: msgpattern serve [flags]

Serve the demo patterns (ping, echo, sum, 42, {"cmd":"sum2","role":"math"},
stream3, fail, boom, slow, events; event evt) until SIGINT or SIGTERM, then
shut down gracefully. With --metrics-addr, also serve the server's metrics
over HTTP: Prometheus at /metrics, the JSON snapshot at /metrics.json.

Exit status: 0 after a shutdown; 1 the server could not start (address in
use…) or did not shut down cleanly; 2 usage error.

Examples:
  msgpattern serve
  msgpattern serve --addr 127.0.0.1:4061 --metrics-addr :9090 -v
`

func serve(args []string) int {
	var c serveCommand
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", envOr("MSGPATTERN_ADDR", ":4061"), "address to listen on (env MSGPATTERN_ADDR)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "serve metrics over HTTP on this address (/metrics Prometheus, /metrics.json JSON); off when empty")
	fs.IntVar(&c.rateLimit, "rate-limit", -1, "requests per second per connection, -1 for none (the library's default is 100)")
	fs.BoolVar(&c.verbose, "v", false, "log connections (debug level)")
	fs.DurationVar(&c.grace, "grace", 10*time.Second, "how long shutdown waits for in-flight requests")
	setUsage(fs, serveUsage)
	if _, code, ok := parseCommand(fs, args, "no arguments", 0, 0); !ok {
		return code
	}
	// Before anything listens, so that a signal never kills a started server.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return c.run(ctx)
}

func (c *serveCommand) run(ctx context.Context) int {
	level := slog.LevelInfo
	if c.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	srv := rpc.NewServer(&rpc.Config{Addr: c.addr, RateLimitPerSec: c.rateLimit, RateLimitBurst: 2 * max(c.rateLimit, 0)}, log)
	demo.Register(srv)
	if err := srv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "msgpattern:", err)
		return 1
	}
	var metrics *http.Server
	if c.metricsAddr != "" {
		ln, err := net.Listen("tcp", c.metricsAddr)
		if err != nil {
			srv.Close()
			fmt.Fprintln(os.Stderr, "msgpattern: metrics:", err)
			return 1
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", prommetrics.Handler(srv))
		mux.Handle("GET /metrics.json", rpc.MetricsHandler(srv))
		metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := metrics.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server stopped", "err", err)
			}
		}()
		log.Info("metrics over HTTP", "prometheus", "http://"+ln.Addr().String()+"/metrics",
			"json", "http://"+ln.Addr().String()+"/metrics.json")
	}
	fmt.Fprintf(os.Stderr, "serving the demo patterns on %s; try:\n  msgpattern send --addr localhost:%[2]s ping\n  printf '{\"pattern\":\"ping\",\"data\":null,\"id\":1}\\n' | nc -q1 localhost %[2]s\n",
		srv.Addr(), port(srv.Addr().String()))

	<-ctx.Done()
	log.Info("shutting down", "grace", c.grace)
	sctx, cancel := context.WithTimeout(context.Background(), c.grace)
	defer cancel()
	code := 0
	// The RPC server first, so that metrics can be scraped while it drains.
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintln(os.Stderr, "msgpattern:", err)
		code = 1
	}
	if metrics != nil {
		if err := metrics.Shutdown(sctx); err != nil {
			metrics.Close()
		}
	}
	return code
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func port(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i+1:]
		}
	}
	return addr
}
