package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
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
           its JSON quotes); @FILE reads it from a file, @- from stdin;
           null when absent

With --nats URL the call goes over NATS instead of TCP (NestJS's NATS
wire), to one instance of the services that serve PATTERN there.

Exit status: 0 the reply completed; 1 the server answered with an error
(printed on stderr as "error: <JSON>") or no handler matched the pattern
(over NATS: nothing subscribes to it); 2 usage error, or no reply (cannot
connect, timed out, connection lost); 130 interrupted.

Examples:
  msgpattern send ping
  msgpattern send sum '[1,2,3]'
  msgpattern send '{"cmd":"sum2","role":"math"}' @numbers.json
  echo '{"id":7}' | msgpattern send --addr svc:3001 --metadata tenant=a user.get @-
  msgpattern send --nats nats://127.0.0.1:4222 sum '[1,2,3]'
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

// caller is what send and emit call through: the TCP client, or the NATS
// one (--nats).
type caller interface {
	rpc.Caller
	Close() error
}

// client returns a client that logs nothing: over NATS when --nats is set
// (connected now), else over TCP to c.addr (connected on first use).
func (c *callFlags) client(cmd string) (caller, error) {
	if c.nats != "" {
		return dialNATSCaller(c.nats, "msgpattern "+cmd, c.timeout)
	}
	opts := []rpc.ClientOption{rpc.WithClientLogger(slog.New(slog.DiscardHandler))}
	if c.timeout > 0 {
		opts = append(opts, rpc.WithDialTimeout(c.timeout))
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
// exitRemote for an error the server sent, exitLocal for the others.
func (c *callFlags) failed(ctx context.Context, cmd string, err error) int {
	if remote, ok := errors.AsType[*rpc.RemoteError](err); ok {
		fmt.Fprintf(os.Stderr, "error: %s\n", indent(remote.Raw))
		if errors.Is(err, rpc.ErrNoHandler) {
			fmt.Fprintf(os.Stderr, "hint: no handler on %s matches this pattern; check its spelling and type "+
				"(42 and \"42\" are the same pattern, an object's key order does not matter)\n", c.target())
		}
		return exitRemote
	}
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "msgpattern: interrupted")
		return exitInterrupted
	}
	fmt.Fprintf(os.Stderr, "msgpattern: %s: %v\n", cmd, err)
	if op, ok := errors.AsType[*net.OpError](err); ok && op.Op == "dial" {
		fmt.Fprintf(os.Stderr, "hint: is a server listening on %s? Set the address with --addr or MSGPATTERN_ADDR\n", c.addr)
	}
	return exitLocal
}

func isRemote(err error) bool {
	_, ok := errors.AsType[*rpc.RemoteError](err)
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
