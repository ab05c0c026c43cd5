package rpc_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// tempErr is an Accept error the accept loop retries after a backoff (as
// EMFILE/ENFILE are: net.Error with Timeout, or Temporary).
type tempErr struct{}

func (tempErr) Error() string   { return "accept: too many open files (simulated)" }
func (tempErr) Timeout() bool   { return true }
func (tempErr) Temporary() bool { return true }

// exhaustedListener fails every Accept with a temporary error until it is
// closed, and reports each failure on failed.
type exhaustedListener struct {
	net.Listener
	failed    chan time.Time
	closeOnce sync.Once
	closed    chan struct{}
}

func (l *exhaustedListener) Accept() (net.Conn, error) {
	select {
	case <-l.closed:
		return nil, net.ErrClosed
	default:
	}
	select {
	case l.failed <- time.Now():
	default:
	}
	return nil, tempErr{}
}

func (l *exhaustedListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// TestShutdownNotHeldByAcceptBackoff: docs/SERVER.md, "Shutdown
// returns by ctx's deadline whatever peers do", and Close "closes the
// server at once". A listener out of descriptors (EMFILE, which peers
// cause by holding connections open) puts the accept loop in a backoff
// sleep of up to 1 s; Shutdown and Close wait for the accept loops
// (serving.Wait) and the sleep is not interrupted by the close, so both
// overrun: a Shutdown with a 20 ms context returns after up to 1 s.
func TestShutdownNotHeldByAcceptBackoff(t *testing.T) {
	for _, useClose := range []bool{false, true} {
		t.Run(map[bool]string{false: "Shutdown", true: "Close"}[useClose], func(t *testing.T) {
			t.Parallel()
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln := &exhaustedListener{Listener: inner, failed: make(chan time.Time, 1), closed: make(chan struct{})}
			s := rpc.NewServer(&rpc.Config{}, discardLogger())
			served := make(chan error, 1)
			go func() { served <- s.Serve(ln) }()
			// Let the backoff grow to its 1 s cap: 5, 10, 20, … 640 ms, 1 s.
			var last, prev time.Time
			for {
				last = <-ln.failed
				if !prev.IsZero() && last.Sub(prev) >= 600*time.Millisecond {
					break // the loop slept 640 ms: the next sleep is the 1 s cap
				}
				prev = last
			}
			// The accept loop has just failed again and sleeps for 1 s now.
			<-ln.failed
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			start := time.Now()
			if useClose {
				s.Close()
			} else {
				s.Shutdown(ctx)
			}
			took := time.Since(start)
			cancel()
			if err := <-served; !errors.Is(err, rpc.ErrServerClosed) {
				t.Errorf("Serve: %v, want ErrServerClosed", err)
			}
			if took > 500*time.Millisecond {
				what := "Shutdown with a 20 ms context"
				if useClose {
					what = "Close"
				}
				t.Errorf("%s took %v: it waited out the accept loop's backoff sleep", what, took.Round(time.Millisecond))
			}
		})
	}
}

// TestRepeatedShutdownErrorIsStable: a Shutdown with an ended
// context on an idle server returns nil (there is nothing to drain, and
// the first call returns nil). A second such call, once the first has
// finished, picks at random between the closed hooksDone channel and
// ctx.Done in one select, so it returns context.Canceled about half the
// time, for the same idle state, and then force-closes (forceClose) what
// the first had already drained.
func TestRepeatedShutdownErrorIsStable(t *testing.T) {
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	var firsts, seconds [2]int // [nil, non-nil]
	for range 64 {
		s := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0"}, discardLogger())
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		idx := func(err error) int {
			if err == nil {
				return 0
			}
			return 1
		}
		firsts[idx(s.Shutdown(ended))]++
		seconds[idx(s.Shutdown(ended))]++
	}
	if firsts[1] != 0 || seconds[1] != 0 {
		t.Errorf("Shutdown with an ended context on an idle server: first call failed %d/64 times, second call (after the first returned) %d/64 times; want nil every time", firsts[1], seconds[1])
	}
}
