package main

// list and health: ask a server about itself through its introspection
// patterns (rpc.Config.Introspection; serve turns it on).

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

const listUsage = `Usage: msgpattern list [flags]   (alias: ls)

List the patterns a server serves: each route key and its kind — request,
stream, event, or handler (one that may reply in any way). It asks the
server's introspection pattern msgpattern:list, which a server offers when
its rpc.Config has Introspection on ('msgpattern serve' has); NestJS
servers have none. --schema adds the JSON Schema of each typed handler's
input and result; --json prints JSON, for scripts. With --nats URL one
instance of the service answers (NATS micro's 'nats micro info' lists it
too).

Exit status: 0 listed; 1 the server offers no introspection; 2 usage error,
or no reply; 130/143 interrupted.

Examples:
  msgpattern list
  msgpattern ls --addr svc:4061 --schema
  msgpattern list --nats nats://127.0.0.1:4222 --json
`

const healthUsage = `Usage: msgpattern health [flags]

Ask a server whether it is serving or draining (shutting down), through its
introspection pattern msgpattern:health (rpc.Config.Introspection; on in
'msgpattern serve') — the same answer as the /healthz of serve's metrics
address, while the server takes new connections. Once it drains it closes
its listener (over NATS, its subscriptions), so health usually gets no
reply then (exit 2): a readiness probe that must tell draining from down
asks /healthz, which answers 503 draining until the server has stopped.

Exit status: 0 serving; 1 draining, or the server offers no introspection;
2 usage error, or no reply; 130/143 interrupted.
`

// introspect runs list or health: flags, a client, and ask, which makes
// one call with ctx; show then prints what it got. -v prints the call's
// round-trip time on stderr, as send's does.
func introspect(name, usageText string, args []string, extra func(fs *flag.FlagSet),
	ask func(ctx context.Context, client caller, opts []rpc.CallOption) error, show func() int) int {
	var c callFlags
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	c.bind(fs, "print the round-trip time on stderr")
	if extra != nil {
		extra(fs)
	}
	setUsage(fs, usageText)
	if _, code, ok := parseCommand(fs, args, "no arguments", 0, 0); !ok {
		return code
	}
	var err error
	if c.tlsCfg, err = c.tls.config(); err != nil {
		return usageErrorf(name, "%v", err)
	}
	ctx, _, stop := notifySignals()
	defer stop()
	// --timeout counts from here: connecting (over NATS) included.
	callCtx, cancel := c.withTimeout(ctx)
	defer cancel()
	client, err := c.client(callCtx, name)
	if err != nil {
		return c.clientFailed(ctx, name, err)
	}
	defer client.Close()
	start := time.Now()
	err = ask(callCtx, client, c.callOptions())
	if c.verbose && (err == nil || isRemote(err)) {
		fmt.Fprintf(os.Stderr, "reply in %s\n", time.Since(start).Round(time.Microsecond))
	}
	switch {
	case err == nil:
		return show()
	case errors.Is(err, rpc.ErrNoHandler):
		fmt.Fprintf(os.Stderr, "msgpattern %s: %s offers no introspection (rpc.Config.Introspection is off, or it is not a msgpattern server)\n", name, c.target())
		return exitRemote
	case ctx.Err() == nil && callCtx.Err() != nil: // --timeout, not a signal
		fmt.Fprintf(os.Stderr, "msgpattern: %s: no reply from %s within %s (--timeout)\n", name, c.target(), c.timeout)
		return exitLocal
	}
	return c.failed(ctx, name, err)
}

func list(args []string) int {
	var asJSON, schema bool
	var patterns []rpc.PatternInfo
	return introspect("list", listUsage, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print the list as JSON")
		fs.BoolVar(&schema, "schema", false, "include the JSON Schemas of typed handlers' input and result")
	}, func(ctx context.Context, client caller, opts []rpc.CallOption) error {
		return client.Send(ctx, rpc.ListPattern, map[string]bool{"schema": schema}, &patterns, opts...)
	}, func() int {
		if asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			enc.Encode(patterns)
			return exitOK
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "PATTERN\tKIND")
		for _, p := range patterns {
			fmt.Fprintf(w, "%s\t%s\n", p.Pattern, p.Kind)
		}
		w.Flush()
		if schema {
			for _, p := range patterns {
				if p.Input == nil {
					continue
				}
				fmt.Printf("\n%s\n  input:  %s\n", p.Pattern, p.Input)
				if p.Output != nil {
					fmt.Printf("  output: %s\n", p.Output)
				}
			}
		}
		return exitOK
	})
}

func health(args []string) int {
	var h struct {
		Status string `json:"status"`
	}
	return introspect("health", healthUsage, args, nil, func(ctx context.Context, client caller, opts []rpc.CallOption) error {
		return client.Send(ctx, rpc.HealthPattern, nil, &h, opts...)
	}, func() int {
		fmt.Println(h.Status)
		if h.Status != "serving" {
			return exitRemote
		}
		return exitOK
	})
}
