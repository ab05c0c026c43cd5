package rpc_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestHugeFrameTimeoutKeepsSplitFrame: FrameTimeout "forever"
// (time.Duration(math.MaxInt64)) must not drop a peer in the middle of a
// frame; the read deadline was now + FrameTimeout, which wraps to the past.
func TestHugeFrameTimeoutKeepsSplitFrame(t *testing.T) {
	const forever = time.Duration(math.MaxInt64)
	for _, tc := range []struct {
		name string
		cfg  rpc.Config
	}{
		{"FrameTimeout", rpc.Config{FrameTimeout: forever}},
		{"FrameTimeout, no rate floor", rpc.Config{FrameTimeout: forever, MinFrameRate: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := startServer(t, tc.cfg, func(s *rpc.Server) {
				s.Handle("echo", rpc.Func(func(d json.RawMessage) (any, error) { return d, nil }))
			})
			c := dial(t, s)
			f := reqFrame(`"echo"`, `1`, `1`)
			c.write(f[:10])
			time.Sleep(50 * time.Millisecond)
			c.write(f[10:])
			c.expectFrame(valueReply(`1`, `1`))
		})
	}
}

// TestHugeHeartbeatTimeoutKeepsPinger: a peer that pinged is held to
// HeartbeatTimeout; "forever" must not close it at once.
func TestHugeHeartbeatTimeoutKeepsPinger(t *testing.T) {
	s, _ := startServer(t, rpc.Config{HeartbeatTimeout: time.Duration(math.MaxInt64)}, func(s *rpc.Server) {
		s.Handle("echo", rpc.Func(func(d json.RawMessage) (any, error) { return d, nil }))
	})
	c := dial(t, s)
	c.call(`"msgpattern:heartbeat"`, `null`, `1`, valueReply(`"pong"`, `1`))
	time.Sleep(50 * time.Millisecond)
	c.call(`"echo"`, `2`, `2`, valueReply(`2`, `2`))
}
