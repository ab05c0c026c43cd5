package rpc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// slowUnencodable takes a second to fail to encode (a slow MarshalJSON: a
// big struct on a loaded machine) and leaves nothing to write.
type slowUnencodable struct{}

var errSlowUnencodable = errors.New("cannot encode")

func (slowUnencodable) MarshalJSON() ([]byte, error) {
	time.Sleep(time.Second)
	return nil, errSlowUnencodable
}

// TestHeartbeatNotTimedWhileEncoding: a call's request was encoded
// under the write buffer's lock (it is now encoded before it, when its
// encoding runs application code); a ping due meanwhile waited for that
// lock in queuePing. The heartbeat loop took the ping's time (pingSent) before
// queueing it, so the time spent waiting for another goroutine's encoder
// counted as the server's silence: once an encode took longer than the
// heartbeat timeout, the loop declared a healthy server dead
// (ErrHeartbeatTimeout) the moment the ping was queued, before a byte of
// it could leave. Here the encode fails (nothing is written at all, so no
// write progress can hide the error); with an encode that succeeds it
// happens whenever the heartbeat loop looks before the caller's write
// (under -race on a loaded machine a 14 MiB request takes seconds to
// encode: this is what made TestHeartbeatSparesBusyUpload flaky). A
// ping's timeout must run from when it was queued.
func TestHeartbeatNotTimedWhileEncoding(t *testing.T) {
	t.Parallel()
	ln := listenSlowReader(t, 64<<10, 0) // reads at once, answers every call and ping
	c := newTestClient(t, ln.Addr().String(), rpc.WithHeartbeat(50*time.Millisecond, 500*time.Millisecond), rpc.WithEagerConnect())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Send(ctx, "x", slowUnencodable{}, nil); !errors.Is(err, errSlowUnencodable) {
		t.Fatalf("Send of a value that fails to encode: %v, want its encoding error", err)
	}
	// The ping due during the encode is either answered (the next one is
	// then sent, the connection idle for 50 ms) or timed out.
	waitForUpTo(t, 10*time.Second, "the first ping answered or timed out", func() bool {
		m := c.Metrics()
		return m.Heartbeats >= 2 || m.HeartbeatFailures > 0
	})
	if m := c.Metrics(); m.HeartbeatFailures != 0 {
		t.Fatalf("a server that answers every ping at once was declared dead by heartbeats (%d pings, %d failures): the ping's 500 ms timeout ran while it waited 1 s for an encoder to release the write buffer",
			m.Heartbeats, m.HeartbeatFailures)
	}
	var out string
	if err := c.Send(ctx, "x", nil, &out); err != nil || out != "ok" {
		t.Fatalf("the next call: %q, %v", out, err)
	}
}
