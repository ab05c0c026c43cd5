package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/msgpattern/msgpattern/internal/demo"
	"github.com/msgpattern/msgpattern/rpc"
)

// serveCommand runs the demo server until SIGINT or SIGTERM.
type serveCommand struct {
	addr      string
	rateLimit int
	verbose   bool
	grace     time.Duration
}

func serve(args []string) int {
	var c serveCommand
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", envOr("MSGPATTERN_ADDR", ":4061"), "address to listen on (env MSGPATTERN_ADDR)")
	fs.IntVar(&c.rateLimit, "rate-limit", -1, "requests per second per connection, -1 for none (the library's default is 100)")
	fs.BoolVar(&c.verbose, "v", false, "log connections (debug level)")
	fs.DurationVar(&c.grace, "grace", 10*time.Second, "how long shutdown waits for in-flight requests")
	if err := fs.Parse(args); err != nil {
		return 2
	}
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
	fmt.Fprintf(os.Stderr, "serving the demo patterns on %s; try:\n  printf '{\"pattern\":\"ping\",\"data\":null,\"id\":1}\\n' | nc -q1 localhost %s\n",
		srv.Addr(), port(srv.Addr().String()))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("shutting down", "grace", c.grace)
	sctx, cancel := context.WithTimeout(context.Background(), c.grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintln(os.Stderr, "msgpattern:", err)
		return 1
	}
	return 0
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
