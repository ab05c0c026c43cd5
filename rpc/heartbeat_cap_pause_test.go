package rpc_test

import (
	"context"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestHeartbeatPeerSurvivesHandlerCapPause: docs/SERVER.md promises
// that pauses of the server's own making, the handler cap included, "renew
// the read deadlines when reading resumes, so they never trip FrameTimeout
// or HeartbeatTimeout against a healthy peer". At MaxHandlers a long handler
// keeps its reader; the peer keeps pinging (its pings wait unread in the
// socket). When the handler returns, or the held-back hand-off finally
// happens, the reader re-armed the heartbeat deadline from the last read
// before the pause, which was past: the Read failed at once and the
// healthy peer was closed for "heartbeats stopped".
func TestHeartbeatPeerSurvivesHandlerCapPause(t *testing.T) {
	// "times out": Timeout equal to HeartbeatTimeout, as with the defaults
	// (30 s each), and a handler that honours its context: it returns at
	// its deadline, which is also the peer's heartbeat deadline.
	for _, how := range []string{"handler returns", "slot frees", "times out"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			release := map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{})}
			// The peer pings every 50 ms against a 1 s HeartbeatTimeout (20
			// intervals): at 200 ms (5 intervals) a loaded CI machine can
			// delay a ping past the timeout, as it did for
			// TestClientHeartbeatsWhileReceivingStream.
			const hbInterval, hbTimeout = 50 * time.Millisecond, time.Second
			timeout := 60 * time.Second
			if how == "times out" {
				timeout = hbTimeout
			}
			srv, _ := startServer(t, rpc.Config{
				MaxHandlers:       1,
				Timeout:           timeout,
				HeartbeatInterval: hbInterval,
				HeartbeatTimeout:  hbTimeout,
			}, func(s *rpc.Server) {
				block := rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
					mu.Lock()
					ch := release[strings.Trim(string(r.Data), `"`)]
					mu.Unlock()
					select {
					case <-ch:
					case <-ctx.Done():
						return ctx.Err()
					}
					return w.Send("done")
				})
				s.Handle("block", block)
				s.Handle("blockLong", block, rpc.WithTimeout(60*time.Second))
			})
			defer func() {
				for _, ch := range release {
					select {
					case <-ch:
					default:
						close(ch)
					}
				}
			}()

			a := dial(t, srv) // fills the one hand-off slot
			a.write(reqFrame(`"blockLong"`, `"a"`, `"a"`))
			if !eventually(ioTimeout, func() bool { return limits(srv).HandedOffRunning == 1 }) {
				t.Fatalf("a's handler was not handed off: %+v", limits(srv))
			}

			// b speaks heartbeats, then calls block: its hand-off is held back.
			b := dial(t, srv)
			b.write(reqFrame(`"msgpattern:heartbeat"`, "null", `"p0"`) + reqFrame(`"block"`, `"b"`, `"b"`))
			b.expectFrame(valueReply(`"pong"`, `"p0"`))
			if !eventually(ioTimeout, func() bool { return limits(srv).HandoffsDeferred > 0 }) {
				t.Fatalf("b's hand-off was not held back: %+v", limits(srv))
			}

			// A healthy peer: it pings every 50 ms throughout.
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 1; ; i++ {
					select {
					case <-stop:
						return
					case <-time.After(hbInterval):
					}
					b.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
					if _, err := io.WriteString(b.nc, reqFrame(`"msgpattern:heartbeat"`, "null", `"p`+strconv.Itoa(i)+`"`)); err != nil {
						return
					}
				}
			}()
			defer func() { close(stop); wg.Wait() }()

			switch how {
			case "handler returns":
				time.Sleep(2 * time.Second) // the pause: twice HeartbeatTimeout, well within Timeout
				close(release["b"])
			case "slot frees":
				time.Sleep(2 * time.Second)
				close(release["a"])
			case "times out": // b's handler ends itself at its deadline, a second on
			}

			// b must be read again: its pings answered (and, once released,
			// its call), not closed.
			deadline := time.Now().Add(ioTimeout)
			pongs := 0
			for pongs < 3 && time.Now().Before(deadline) {
				f, err := b.readFrameErr(ioTimeout)
				if err != nil {
					t.Fatalf("b closed by the server after a pause of its own making (heartbeats_failed=%d): %v",
						srv.GetMetrics().Heartbeats.Failed, err)
				}
				if strings.Contains(f, `"pong"`) {
					pongs++
				}
			}
			if pongs < 3 {
				t.Fatalf("b's pings not answered after the pause")
			}
		})
	}
}
