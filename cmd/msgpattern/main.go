// Command msgpattern serves, calls and load-tests NestJS-compatible
// message-pattern services.
//
//	msgpattern serve [--addr :4061]     run the demo server
//
// Run `msgpattern help` for the commands.
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
	fmt.Fprint(os.Stderr, `Usage: msgpattern <command> [flags]

Commands:
  serve    run the demo server (ping, echo, sum, stream3, events, …)
  help     show this help

Run 'msgpattern <command> -h' for a command's flags.
`)
}
