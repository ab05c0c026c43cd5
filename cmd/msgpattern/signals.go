package main

// SIGINT and SIGTERM: the first ends a command's context, and the command
// exits 128 + the signal's number (130 for SIGINT, 143 for SIGTERM) unless
// it was asked to stop that way (serve exits 0 after a graceful shutdown).
// Later ones are passed on: serve stops at once on a second.

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes of a command stopped by a signal.
const (
	exitSIGINT  = 130 // 128 + SIGINT
	exitSIGTERM = 143 // 128 + SIGTERM
)

// interrupted is the cause of a context ended by a signal.
type interrupted struct{ sig os.Signal }

func (e interrupted) Error() string { return "interrupted by " + e.sig.String() }

// exitCode is 128 + the signal's number.
func (e interrupted) exitCode() int {
	if e.sig == syscall.SIGTERM {
		return exitSIGTERM
	}
	return exitSIGINT
}

// signals relays SIGINT and SIGTERM to a command.
type signals struct {
	ch    chan os.Signal
	again chan os.Signal // the signals after the first
	done  chan struct{}  // closed when the relay ends
}

// notifySignals returns a context that ends, with an interrupted cause,
// at the first SIGINT or SIGTERM; stop ends the relay (the signals kill
// the process again, as by default).
func notifySignals() (ctx context.Context, s *signals, stop func()) {
	s = &signals{ch: make(chan os.Signal, 2), again: make(chan os.Signal, 1), done: make(chan struct{})}
	signal.Notify(s.ch, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		defer close(s.done)
		first := true
		for sig := range s.ch {
			if first {
				first = false
				cancel(interrupted{sig})
				continue
			}
			select {
			case s.again <- sig:
			default: // one pending is enough
			}
		}
	}()
	return ctx, s, func() {
		signal.Stop(s.ch)
		close(s.ch)
		<-s.done
		cancel(nil)
	}
}

// Again receives the signals after the first.
func (s *signals) Again() <-chan os.Signal { return s.again }

// interruptCode is the exit code of a command whose ctx a signal ended:
// 130 for SIGINT, 143 for SIGTERM.
func interruptCode(ctx context.Context) int {
	if in, ok := errors.AsType[interrupted](context.Cause(ctx)); ok {
		return in.exitCode()
	}
	return exitSIGINT
}

// signalCode is 128 + the number of sig.
func signalCode(sig os.Signal) int { return interrupted{sig}.exitCode() }
