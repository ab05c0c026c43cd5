package rpc_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestBystanderErrorNotAnotherCallsContext: when an Emit alone on its
// connection has its write cut short by its context (cancelled, or its
// deadline), the connection fails and call C, pending behind it, fails
// with ErrConnectionLost. C's error used to wrap A's context error
// ("connection lost: context canceled"), so errors.Is(err,
// context.Canceled) held for a call whose own context was alive. The
// connection's cause is errWriteCutShort now; only A gets its context's
// error.
func TestBystanderErrorNotAnotherCallsContext(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"cancel", "deadline"} {
		bad := 0
		const rounds = 6
		redone := 0
		for round := 0; round < rounds; round++ {
			ln := listenNeverRead(t)
			c := newTestClient(t, ln.Addr().String(), rpc.WithMaxQueuedBytes(-1), rpc.WithHeartbeat(0, 0))
			var ctxA context.Context
			var cancelA context.CancelFunc
			if mode == "cancel" {
				ctxA, cancelA = context.WithCancel(context.Background())
			} else {
				// Expired when the test says: a real timeout could pass
				// before the socket is full, on a loaded machine.
				ctxA, cancelA = expireOnDemand()
			}
			errA := emitUntilBlocked(t, c, ctxA)
			queued := rpc.ClientQueuedForTest(c)
			ctxC, cancelC := context.WithTimeout(context.Background(), 30*time.Second)
			errC := make(chan error, 1)
			go func() { errC <- c.Send(ctxC, "c", nil, nil) }()
			// C's frame queued behind A's, not only C registered: a call
			// whose connection dies before its frame is queued never left,
			// and is rightly sent again on a new connection, which this
			// listener never answers (C would wait out ctxC).
			waitFor(t, "C queued behind A", func() bool {
				return c.Metrics().InFlight == 1 && rpc.ClientQueuedForTest(c) > queued
			})
			stuck := c.Metrics().StuckConnections
			cancelA()
			<-errA
			if c.Metrics().StuckConnections == stuck {
				// A's Emit was not the one writing (the machine kept a
				// goroutine from running for the half second
				// emitUntilBlocked takes for "blocked", and the writer
				// goroutine took the write): its context ending cut no
				// write short, the connection lives, and C waits for
				// the write timeout. That proves nothing: again.
				t.Logf("%s round %d: A's context ended, but no write of A's was cut short: the round is run again", mode, round)
				cancelC()
				c.Close()
				<-errC
				if redone++; redone > 2*rounds {
					t.Fatal("the machine never let an Emit be the one blocked in its write: the rule was never tested")
				}
				round--
				continue
			}
			var err error
			select {
			case err = <-errC:
			case <-time.After(10 * time.Second):
				t.Fatal("C hung")
			}
			cancelA()
			cancelC()
			if !errors.Is(err, rpc.ErrConnectionLost) {
				t.Errorf("%s round %d: C: %v, want ErrConnectionLost", mode, round, err)
			}
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				bad++
				t.Logf("%s round %d: C, whose context is alive, got %q: errors.Is(err, context.Canceled)=%v, DeadlineExceeded=%v",
					mode, round, err, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded))
			}
			c.Close()
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d bystander calls failed with an error matching another call's context error", mode, bad, rounds)
		}
	}
}

// expiringCtx is a context whose Err is DeadlineExceeded once expired.
type expiringCtx struct {
	context.Context // Background: no deadline, no values
	done            chan struct{}
}

func (e *expiringCtx) Done() <-chan struct{} { return e.done }

func (e *expiringCtx) Err() error {
	select {
	case <-e.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// expireOnDemand returns a context that reports DeadlineExceeded once the
// returned function is called.
func expireOnDemand() (context.Context, context.CancelFunc) {
	e := &expiringCtx{Context: context.Background(), done: make(chan struct{})}
	var once sync.Once
	return e, func() { once.Do(func() { close(e.done) }) }
}
