package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
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
	limits      rpc.Config // the resource bounds set by flags; zero means the library's default
}

const serveUsage = `Usage: msgpattern serve [flags]

Serve the demo patterns (ping, echo, sum, 42, {"cmd":"sum2","role":"math"},
stream3, fail, boom, slow, events; event evt) until SIGINT or SIGTERM, then
shut down gracefully. With --metrics-addr, also serve the server's metrics
over HTTP: Prometheus at /metrics, the JSON snapshot at /metrics.json.

Exit status: 0 after a shutdown; 1 the server could not start (address in
use…) or did not shut down cleanly; 2 usage error.

Resource bounds (what peers can make the server spend) default to the
library's; each flag overrides one (see README, "Limits"). Sizes take a
K, M or G suffix (powers of 1024); a negative value turns a bound off.

Examples:
  msgpattern serve
  msgpattern serve --addr 127.0.0.1:4061 --metrics-addr :9090 -v
  msgpattern serve --max-connections 200 --memory-budget 256M --write-timeout 5s
`

func serve(args []string) int {
	var c serveCommand
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", envOr("MSGPATTERN_ADDR", ":4061"), "address to listen on (env MSGPATTERN_ADDR)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "serve metrics over HTTP on this address (/metrics Prometheus, /metrics.json JSON); off when empty")
	fs.IntVar(&c.rateLimit, "rate-limit", -1, "requests per second per connection, -1 for none (the library's default is 100)")
	fs.BoolVar(&c.verbose, "v", false, "log connections (debug level)")
	fs.DurationVar(&c.grace, "grace", 10*time.Second, "how long shutdown waits for in-flight requests")
	l := &c.limits
	*l = *rpc.DefaultConfig() // flags show, and start from, the library's defaults
	fs.IntVar(&l.MaxConnections, "max-connections", l.MaxConnections, "concurrent connections")
	fs.IntVar(&l.MaxInFlight, "max-in-flight", l.MaxInFlight, "requests running at once on one connection")
	fs.IntVar(&l.MaxHandlers, "max-handlers", l.MaxHandlers, "handlers running off their connection's reader, server-wide")
	fs.DurationVar(&l.WriteTimeout, "write-timeout", l.WriteTimeout, "drop a peer that takes no reply bytes for this long")
	fs.Var(byteSize{&l.MaxQueuedReplyBytes}, "max-queued-reply", "reply bytes queued for one peer before it is dropped")
	fs.Var(byteSize64{&l.MemoryBudget}, "memory-budget", "bytes held for incoming frames and queued replies, server-wide (GOMEMLIMIT/2 when set)")
	fs.DurationVar(&l.EvictIdleAfter, "evict-idle-after", l.EvictIdleAfter, "at max-connections, evict a connection idle this long for a new one")
	fs.DurationVar(&l.FrameTimeout, "frame-timeout", l.FrameTimeout, "drop a peer silent this long in the middle of a frame")
	fs.IntVar(&l.MinFrameRate, "min-frame-rate", l.MinFrameRate, "bytes/s a frame must average once it took longer than frame-timeout")
	fs.Var(byteSize{&l.MaxFrameSize}, "max-frame-size", "longest frame accepted, in UTF-16 units")
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

	cfg := c.limits
	cfg.Addr, cfg.RateLimitPerSec, cfg.RateLimitBurst = c.addr, c.rateLimit, 2*max(c.rateLimit, 0)
	srv := rpc.NewServer(&cfg, log)
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

// byteSize is a flag of a byte count with an optional K, M or G suffix
// (powers of 1024).
type byteSize struct{ p *int }

func (b byteSize) String() string {
	if b.p == nil {
		return ""
	}
	return formatByteSize(int64(*b.p))
}

func (b byteSize) Set(s string) error {
	n, err := parseByteSize(s)
	if err != nil {
		return err
	}
	if n > math.MaxInt || n < math.MinInt {
		return errors.New("out of range")
	}
	*b.p = int(n)
	return nil
}

type byteSize64 struct{ p *int64 }

func (b byteSize64) String() string {
	if b.p == nil {
		return ""
	}
	return formatByteSize(*b.p)
}

func formatByteSize(n int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b byteSize64) Set(s string) error {
	n, err := parseByteSize(s)
	if err == nil {
		*b.p = n
	}
	return err
}

func parseByteSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New("want a number of bytes, with an optional K, M or G suffix")
	}
	if n > math.MaxInt64/mult || n < math.MinInt64/mult {
		return 0, errors.New("out of range")
	}
	return n * mult, nil
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
