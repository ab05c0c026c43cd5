// Command msgpattern serves, calls and load-tests NestJS-compatible
// message-pattern services.
//
//	msgpattern serve [--addr :4061] [--metrics-addr :9090]   run the demo server
//	msgpattern send [flags] PATTERN [DATA]                   call a pattern, print the reply
//	msgpattern emit [flags] PATTERN [DATA]                   send an event
//	msgpattern bench [flags] PATTERN [DATA]                  load-test a pattern
//
// Each also works over NATS: serve --nats URL (or --nats-server ADDR, which
// starts a NATS server in the process), send|emit|bench --nats URL.
//
// Run `msgpattern help` for the commands, `msgpattern <command> -h` for a
// command's flags.
package main

import (
	"fmt"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		usage()
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:])
	case "send":
		return send(args[1:])
	case "emit":
		return emit(args[1:])
	case "bench":
		return bench(args[1:])
	case "help", "-h", "--help":
		usage()
		return 0
	default:
		fmt.Fprintf(os.Stderr, "msgpattern: unknown command %q\n", args[0])
		usage()
		return 2
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `Usage: msgpattern <command> [flags] [arguments]

Commands:
  serve    run the demo server (ping, echo, sum, stream3, events, …)
  send     call a pattern and print the reply: send [flags] PATTERN [DATA]
  emit     send an event, no reply: emit [flags] PATTERN [DATA]
  bench    load-test a pattern: bench [flags] PATTERN [DATA]
  help     show this help

send and emit connect to $MSGPATTERN_ADDR, else localhost:4061 (--addr).

Over NATS, to scale out: serve --nats URL serves the demo over a NATS server
as well (instances share the load in a queue group); serve --nats-server
ADDR starts one in the process; send, emit and bench --nats URL call over it.

Run 'msgpattern <command> -h' for a command's flags.
`)
}
