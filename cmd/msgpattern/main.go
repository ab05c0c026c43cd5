// Command msgpattern serves, calls and load-tests NestJS-compatible
// message-pattern services.
//
//	msgpattern serve [--addr :4061] [--metrics-addr 127.0.0.1:9090]   run the demo server
//	msgpattern send [flags] PATTERN [DATA]                   call a pattern, print the reply
//	msgpattern emit [flags] PATTERN [DATA]                   send an event
//	msgpattern bench [flags] PATTERN [DATA]                  load-test a pattern
//	msgpattern list [flags]                                  list a server's patterns (ls)
//	msgpattern health [flags]                                serving or draining
//	msgpattern version                                       print the version
//
// Each also works over NATS: serve --nats URL (or --nats-server ADDR, which
// starts a NATS server in the process), send|emit|bench --nats URL; and
// over TLS: serve --tls-cert FILE --tls-key FILE, send|emit|bench --tls,
// --cacert FILE, --cert FILE --key FILE, --insecure.
//
// With the OpenTelemetry environment (OTEL_TRACES_EXPORTER, or an OTLP
// endpoint), serve, send, emit and bench trace what they serve and call
// (otel.go); without it they install nothing.
//
// Run `msgpattern help` for the commands, `msgpattern help <command>` (or
// `msgpattern <command> -h`) for a command's flags.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// commands are the commands, by name.
var commands = map[string]func(args []string) int{
	"serve":  serve,
	"send":   send,
	"emit":   emit,
	"bench":  bench,
	"list":   list,
	"ls":     list,
	"health": health,
}

func run(args []string) int {
	if len(args) == 0 {
		usage(os.Stderr)
		return exitUsage
	}
	if cmd, ok := commands[args[0]]; ok {
		return cmd(args[1:])
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return help(args[1:])
	case "version", "-version", "--version":
		if len(args) == 2 && isHelpArg(args[1]) {
			fmt.Println(versionUsage)
			return exitOK
		}
		if len(args) > 1 {
			fmt.Fprintf(os.Stderr, "msgpattern %s: want no arguments, got %d\n", args[0], len(args)-1)
			return exitUsage
		}
		fmt.Println(version())
		return exitOK
	default:
		fmt.Fprintf(os.Stderr, "msgpattern: unknown command %q\n", args[0])
		usage(os.Stderr)
		return exitUsage
	}
}

// isHelpArg reports whether arg asks for help, as the flag package takes
// it: -h, -help, --h or --help.
func isHelpArg(arg string) bool {
	switch arg {
	case "-h", "-help", "--h", "--help":
		return true
	}
	return false
}

// help prints the help on stdout: the commands', or that of the command
// named in args.
func help(args []string) int {
	switch {
	case len(args) == 0:
		usage(os.Stdout)
		return exitOK
	case len(args) > 1:
		fmt.Fprintf(os.Stderr, "msgpattern help: want one command, got %d\n", len(args))
		return exitUsage
	case args[0] == "help" || isHelpArg(args[0]):
		usage(os.Stdout)
		return exitOK
	case args[0] == "version":
		fmt.Println(versionUsage)
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "msgpattern help: unknown command %q\n", args[0])
		usage(os.Stderr)
		return exitUsage
	}
	return cmd([]string{"-h"})
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: msgpattern <command> [flags] [arguments]

Commands:
  serve    run the demo server (ping, echo, sum, stream3, events, …)
  send     call a pattern and print the reply: send [flags] PATTERN [DATA]
  emit     send an event, no reply: emit [flags] PATTERN [DATA]
  bench    load-test a pattern: bench [flags] PATTERN [DATA]
  list     list the patterns a server serves (alias ls; --schema, --json)
  health   ask a server whether it is serving or draining
  version  print the version of msgpattern and of Go (also --version)
  help     show this help, or a command's: help COMMAND

send and emit connect to $MSGPATTERN_ADDR, else localhost:4061 (--addr);
with --tls, --cacert FILE, --cert FILE --key FILE or --insecure, over TLS
(serve --tls-cert FILE --tls-key FILE serves it).

Over NATS, to scale out: serve --nats URL serves the demo over a NATS server
as well (instances share the load in a queue group); serve --nats-server
ADDR starts one in the process; send, emit and bench --nats URL call over it.

Tracing: with OTEL_TRACES_EXPORTER (otlp, console) or an OTLP endpoint
(OTEL_EXPORTER_OTLP_ENDPOINT) set, serve, send, emit and bench make
OpenTelemetry spans, one trace from client to server; the other standard
variables (OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, OTEL_PROPAGATORS…) apply.
Without them nothing is traced. See 'msgpattern help serve'.

Run 'msgpattern help <command>' or 'msgpattern <command> -h' for a
command's flags.
`)
}

const versionUsage = `Usage: msgpattern version (or msgpattern --version)

Print the version of msgpattern — its module version, "(devel)" when built
from a clone without one — and the Go version it was built with.`

// version is the module version of the binary and the Go version it was
// built with: "msgpattern v1.2.0 go1.26.1", "msgpattern (devel) go1.26.1".
func version() string {
	return fmt.Sprintf("msgpattern %s %s", moduleVersion(), runtime.Version())
}

// moduleVersion is the module version of the binary, "(devel)" without one.
func moduleVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}
