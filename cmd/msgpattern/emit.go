package main

import (
	"context"
	"fmt"
	"os"
)

// emitCommand sends an event: no id, no reply.
type emitCommand struct{ callFlags }

const emitUsage = `Usage: msgpattern emit [flags] PATTERN [DATA]

Send PATTERN as an event (NestJS emit): the server runs its event handlers
for PATTERN and answers nothing. Prints nothing on success.

  PATTERN  as for send: a string, or a JSON object if it starts with '{'
  DATA     one JSON value, @FILE or @- (stdin); null when absent

With --nats URL the event is published over NATS, to every service that
subscribes to PATTERN there (one instance of each queue group).

With --tls, --cacert, --cert or --insecure the connection is TLS (to the
NATS server with --nats).

With OTEL_TRACES_EXPORTER (otlp, console) or OTEL_EXPORTER_OTLP_ENDPOINT
set, the event is an OpenTelemetry producer span, whose traceparent goes in
the event's metadata: a traced server's consumer span is its child. The
console exporter writes it on stderr. See 'msgpattern help serve'.

Exit status: 0 the event was written to the connection (over NATS: the NATS
server has it); 2 usage error, or the event could not be sent (cannot
connect, timed out); 130 interrupted (SIGINT), 143 terminated (SIGTERM).
Whether a handler exists or succeeds is not reported: events have no reply.

Examples:
  msgpattern emit user.created '{"id":7}'
  msgpattern emit --metadata traceparent=00-4bf9…-01 '{"cmd":"audit"}' @event.json
  msgpattern emit --nats nats://127.0.0.1:4222 evt '"hello"'
`

func emit(args []string) int {
	var c emitCommand
	return c.execute("emit", emitUsage, `print "sent" on stderr once the event is written`, args, c.call)
}

// call writes the event.
func (c *emitCommand) call(ctx, callCtx context.Context, client caller) int {
	err := client.Emit(callCtx, c.pattern, c.data, c.callOptions()...)
	switch {
	case err == nil:
		if c.verbose {
			fmt.Fprintln(os.Stderr, "sent")
		}
		return exitOK
	case ctx.Err() == nil && callCtx.Err() != nil:
		fmt.Fprintf(os.Stderr, "msgpattern: emit: could not send the event to %s within %s (--timeout)\n", c.target(), c.timeout)
		return exitLocal
	}
	return c.failed(ctx, "emit", err)
}
