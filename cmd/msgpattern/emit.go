package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// emitCommand sends an event: no id, no reply.
type emitCommand struct {
	callFlags
	pattern any
	data    json.RawMessage
}

const emitUsage = `Usage: msgpattern emit [flags] PATTERN [DATA]

Send PATTERN as an event (NestJS emit): the server runs its event handlers
for PATTERN and answers nothing. Prints nothing on success.

  PATTERN  as for send: a string, or a JSON object if it starts with '{'
  DATA     one JSON value, @FILE or @- (stdin); null when absent

Exit status: 0 the event was written to the connection; 2 usage error, or
the event could not be sent (cannot connect, timed out); 130 interrupted.
Whether a handler exists or succeeds is not reported: events have no reply.

Examples:
  msgpattern emit user.created '{"id":7}'
  msgpattern emit --metadata traceparent=00-4bf9…-01 '{"cmd":"audit"}' @event.json
`

func emit(args []string) int {
	var c emitCommand
	fs := flag.NewFlagSet("emit", flag.ContinueOnError)
	c.bind(fs, `print "sent" on stderr once the event is written`)
	setUsage(fs, emitUsage)
	var (
		code int
		ok   bool
	)
	if c.pattern, c.data, code, ok = c.parseCall(fs, args); !ok {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return c.run(ctx)
}

func (c *emitCommand) run(ctx context.Context) int {
	client, err := c.client()
	if err != nil {
		fmt.Fprintln(os.Stderr, "msgpattern: emit:", err)
		return exitLocal
	}
	defer client.Close()
	callCtx, cancel := c.withTimeout(ctx)
	defer cancel()

	err = client.Emit(callCtx, c.pattern, c.data, c.callOptions()...)
	switch {
	case err == nil:
		if c.verbose {
			fmt.Fprintln(os.Stderr, "sent")
		}
		return exitOK
	case ctx.Err() == nil && callCtx.Err() != nil:
		fmt.Fprintf(os.Stderr, "msgpattern: emit: could not send the event to %s within %s (--timeout)\n", c.addr, c.timeout)
		return exitLocal
	}
	return c.failed(ctx, "emit", err)
}
