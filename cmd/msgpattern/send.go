package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// sendCommand calls a pattern and prints the reply's values as they arrive.
type sendCommand struct{ callFlags }

const sendUsage = `Usage: msgpattern send [flags] PATTERN [DATA]

Call PATTERN and print the reply as indented JSON: one value for a plain
reply, each value of a stream (an Observable) as it arrives.

  PATTERN  a string, sent as it is: ping, user.get, 42 (42 and "42" reach
           the same handler, as in NestJS); or, if it starts with '{', a JSON
           object: '{"cmd":"sum","role":"math"}' (key order does not matter)
  DATA     one JSON value: '[1,2,3]', '{"id":7}', '"text"' (a string needs
           its JSON quotes); @FILE reads it from a file, @- from stdin
           (64 MiB at most); null when absent

With --nats URL the call goes over NATS instead of TCP (NestJS's NATS
wire), to one instance of the services that serve PATTERN there.

A reply that completes without a value is what an event handler answers
(it ran, and sends no reply: send events with 'msgpattern emit'), or a
stream that ended empty: send says so on stderr, and exits 0.

With --tls, --cacert, --cert or --insecure the connection is TLS (to the
NATS server with --nats).

With OTEL_TRACES_EXPORTER (otlp, console) or OTEL_EXPORTER_OTLP_ENDPOINT
set, the call is an OpenTelemetry client span, whose traceparent goes in the
request's metadata so that a traced server (serve, a NestJS 12 service)
continues the trace; the console exporter writes it on stderr, stdout
staying the reply's. See 'msgpattern help serve' for the variables.

Exit status: 0 the reply completed; 1 the server answered with an error
(printed on stderr as "error: <JSON>") or no handler matched the pattern
(over NATS: nothing subscribes to it); 2 usage error, or no reply (cannot
connect, timed out, connection lost); 130 interrupted (SIGINT), 143
terminated (SIGTERM).

Examples:
  msgpattern send ping
  msgpattern send sum '[1,2,3]'
  msgpattern send '{"cmd":"sum2","role":"math"}' @numbers.json
  echo '{"id":7}' | msgpattern send --addr svc:3001 --metadata tenant=a user.get @-
  msgpattern send --nats nats://127.0.0.1:4222 sum '[1,2,3]'
  msgpattern send --addr svc:4061 --cacert ca.pem --cert me.pem --key me-key.pem ping
  OTEL_TRACES_EXPORTER=console msgpattern send sum '[1,2,3]'
`

func send(args []string) int {
	var c sendCommand
	return c.execute("send", sendUsage, "print the round-trip time and the number of values on stderr", args, c.call)
}

// call prints each value of the reply as it arrives.
func (c *sendCommand) call(ctx, callCtx context.Context, client caller) int {
	start := time.Now()
	n := 0
	var callErr error
	for v, err := range client.Stream(callCtx, c.pattern, c.data, c.callOptions()...) {
		if err != nil {
			callErr = err
			break
		}
		n++
		if err := printValue(v); err != nil {
			fmt.Fprintln(os.Stderr, "msgpattern: writing the reply:", err)
			return exitLocal
		}
	}
	rtt := time.Since(start)
	if c.verbose && (callErr == nil || isRemote(callErr)) {
		fmt.Fprintf(os.Stderr, "%s in %s\n", plural(n, "value"), rtt.Round(time.Microsecond))
	}
	if callErr == nil {
		if n == 0 {
			fmt.Fprintf(os.Stderr, "note: %s answered no value: it is an event handler (it ran, and sends no reply; "+
				"send events with 'msgpattern emit'), or a stream that ended empty\n", patternText(c.pattern))
		}
		return exitOK
	}
	if ctx.Err() == nil && callCtx.Err() != nil {
		msg := fmt.Sprintf("no complete reply from %s within %s (--timeout)", c.target(), c.timeout)
		if n > 0 {
			msg += fmt.Sprintf(", after %s", plural(n, "value"))
		}
		fmt.Fprintln(os.Stderr, "msgpattern: send:", msg)
		return exitLocal
	}
	return c.failed(ctx, "send", callErr)
}

// patternText is PATTERN as the user gave it, for messages.
func patternText(p any) string {
	if raw, ok := p.(json.RawMessage); ok {
		return string(raw)
	}
	return fmt.Sprint(p)
}

// printValue prints one reply value as indented JSON.
func printValue(v json.RawMessage) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, v, "", "  "); err != nil {
		buf.Reset()
		buf.Write(v)
	}
	buf.WriteByte('\n')
	_, err := os.Stdout.Write(buf.Bytes())
	return err
}
