package main

// Argument parsing shared by send and emit: PATTERN, DATA, --metadata, and
// flags placed anywhere among the arguments.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/msgpattern/msgpattern/pattern"
)

// Exit codes of send and emit (serve exits 1 when it cannot start).
const (
	exitOK          = 0
	exitRemote      = 1   // the server answered with an error, or no handler matched
	exitUsage       = 2   // bad flags or arguments
	exitLocal       = 2   // no reply: dial failure, timeout, lost connection
	exitInterrupted = 130 // SIGINT or SIGTERM before the reply completed
)

// defaultAddr is where send and emit connect without --addr.
func defaultAddr() string { return envOr("MSGPATTERN_ADDR", "localhost:4061") }

// callFlags are the flags that send and emit share.
type callFlags struct {
	pattern  any
	data     json.RawMessage
	addr     string
	nats     string // call over the NATS server at this URL instead of addr
	timeout  time.Duration
	verbose  bool
	metadata metadataFlag
}

func (c *callFlags) bind(fs *flag.FlagSet, verbose string) {
	fs.StringVar(&c.addr, "addr", defaultAddr(), "server address host:port; the default is $MSGPATTERN_ADDR, else localhost:4061")
	fs.StringVar(&c.nats, "nats", "", "call over the NATS server at this `URL` (nats://host:port) instead of TCP to --addr")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "give up after this long, connecting included; 0 for no limit")
	fs.BoolVar(&c.verbose, "v", false, verbose)
	fs.Var(&c.metadata, "metadata", "add `key=value` to the request's metadata (NestJS 12), e.g. traceparent=…; repeatable")
}

// parsePattern reads PATTERN: a JSON object when it starts with '{', a
// plain string otherwise. A string is routed as it is, so 42 and "42" reach
// the same handler (NestJS routes the number 42 as "42").
func parsePattern(arg string) (any, error) {
	if arg == "" {
		return nil, errors.New("PATTERN is empty")
	}
	if !strings.HasPrefix(strings.TrimLeft(arg, " \t\r\n"), "{") {
		return arg, nil
	}
	raw, err := compactJSON([]byte(arg))
	if err != nil {
		return nil, fmt.Errorf("PATTERN starts with '{' but is not a JSON object: %w", err)
	}
	if _, err := pattern.Of(raw); err != nil {
		return nil, fmt.Errorf("PATTERN %s cannot be routed: %w", raw, err)
	}
	return raw, nil
}

// parseData reads DATA: JSON text, @FILE, or @- for standard input. No
// DATA is null.
func parseData(args []string, stdin io.Reader) (json.RawMessage, error) {
	if len(args) == 0 {
		return json.RawMessage("null"), nil
	}
	arg := args[0]
	var (
		text  []byte
		where string
		err   error
	)
	switch {
	case arg == "@-":
		where = "DATA from stdin"
		text, err = io.ReadAll(stdin)
	case strings.HasPrefix(arg, "@"):
		where = "DATA in " + arg[1:]
		text, err = os.ReadFile(arg[1:])
	default:
		raw, err := compactJSON([]byte(arg))
		if err != nil {
			return nil, fmt.Errorf("DATA is not valid JSON (%w)%s", err, quoteHint(arg))
		}
		return raw, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading DATA: %w", err)
	}
	if len(bytes.TrimSpace(text)) == 0 {
		return nil, fmt.Errorf("%s is empty; want one JSON value (null for none)", where)
	}
	raw, err := compactJSON(text)
	if err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %w", where, err)
	}
	return raw, nil
}

// compactJSON checks that b holds exactly one JSON value and returns it
// without insignificant blanks.
func compactJSON(b []byte) (json.RawMessage, error) {
	var v json.RawMessage
	if err := json.Unmarshal(b, &v); err != nil {
		if se, ok := errors.AsType[*json.SyntaxError](err); ok {
			return nil, fmt.Errorf("%w, at byte %d", err, se.Offset)
		}
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, v); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// quoteHint suggests JSON quotes for DATA that looks like a bare string.
func quoteHint(arg string) string {
	if s := strings.TrimSpace(arg); s != "" && strings.ContainsRune(`{["`, rune(s[0])) {
		return ""
	}
	q, _ := json.Marshal(arg)
	return fmt.Sprintf("; DATA is JSON, so a string needs quotes: '%s'", q)
}

// metadataFlag collects --metadata key=value flags.
type metadataFlag map[string]string

func (m *metadataFlag) String() string {
	if m == nil || len(*m) == 0 {
		return ""
	}
	kv := make([]string, 0, len(*m))
	for k, v := range *m {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

func (m *metadataFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	if *m == nil {
		*m = metadataFlag{}
	}
	(*m)[k] = v
	return nil
}

// parseFlags parses args with the flags anywhere among the positional
// arguments (`send ping -v` works as `send -v ping`), and returns the
// positional ones. "--" ends the flags; a negative number is positional,
// so `send add -5` sends -5.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' || json.Valid([]byte(a)) {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if f := fs.Lookup(name); f != nil && !hasValue && !isBoolFlag(f) && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	if err := fs.Parse(flags); err != nil {
		return nil, err
	}
	return pos, nil
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// setUsage makes fs print text, then its flags in --name form.
func setUsage(fs *flag.FlagSet, text string) {
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprint(w, text)
		fmt.Fprintln(w, "\nFlags:")
		fs.VisitAll(func(f *flag.Flag) {
			dash := "--"
			if len(f.Name) == 1 {
				dash = "-"
			}
			name, usage := flag.UnquoteUsage(f)
			left := dash + f.Name
			if name != "" {
				left += " " + name
			}
			line := fmt.Sprintf("  %-22s %s", left, usage)
			if f.DefValue != "" && f.DefValue != "false" {
				line += fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintln(w, line)
		})
	}
}

// parseCommand parses a command's flags and its arguments, of which there
// must be between minArgs and maxArgs (described by want); ok is false
// when the command should exit at once with code. -h prints the usage; a
// mistake prints what is wrong and how to get the usage.
func parseCommand(fs *flag.FlagSet, args []string, want string, minArgs, maxArgs int) (pos []string, code int, ok bool) {
	help := fs.Usage
	fs.Usage = func() {} // the flag package calls it on errors too
	defer func() { fs.Usage = help }()
	pos, err := parseFlags(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		help()
		return nil, exitOK, false
	case err == nil && (len(pos) < minArgs || len(pos) > maxArgs):
		fmt.Fprintf(fs.Output(), "msgpattern %s: want %s, got %d argument(s)\n", fs.Name(), want, len(pos))
		fallthrough
	case err != nil: // the flag package printed the error
		fmt.Fprintf(fs.Output(), "Run 'msgpattern %s -h' for usage.\n", fs.Name())
		return nil, exitUsage, false
	}
	return pos, exitOK, true
}

// parseCall parses the flags and PATTERN [DATA] arguments of send and emit
// into c. ok is false when the command should exit at once with code.
func (c *callFlags) parseCall(fs *flag.FlagSet, args []string) (pat any, data json.RawMessage, code int, ok bool) {
	pos, code, ok := parseCommand(fs, args, "PATTERN [DATA]", 1, 2)
	if !ok {
		return nil, nil, code, false
	}
	var err error
	if pat, err = parsePattern(pos[0]); err != nil {
		return nil, nil, usageError(err), false
	}
	if data, err = parseData(pos[1:], os.Stdin); err != nil {
		return nil, nil, usageError(err), false
	}
	return pat, data, exitOK, true
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
	var (
		code int
		ok   bool
	)
	if c.pattern, c.data, code, ok = c.parseCall(fs, args); !ok {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	client, err := c.client(name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "msgpattern: %s: %v\n", name, err)
		if c.nats != "" {
			fmt.Fprintf(os.Stderr, "hint: is a NATS server listening at %s? Set its URL with --nats\n", c.nats)
		}
		return exitLocal
	}
	defer client.Close()
	callCtx, cancel := c.withTimeout(ctx)
	defer cancel()
	return call(ctx, callCtx, client)
}
