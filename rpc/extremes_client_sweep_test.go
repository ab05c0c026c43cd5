package rpc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientOptionExtremes: every client option at 0, -1, 1 and its
// largest value still serves calls and a stream, without panic or hang.
func TestClientOptionExtremes(t *testing.T) {
	durs, ints := extremeDurations, extremeInts
	type tc struct {
		name string
		opt  rpc.ClientOption
	}
	var cases []tc
	for _, d := range durs {
		cases = append(cases,
			tc{fmt.Sprint("DialTimeout=", d), rpc.WithDialTimeout(d)},
			tc{fmt.Sprint("WriteTimeout=", d), rpc.WithWriteTimeout(d)},
			tc{fmt.Sprint("HeartbeatInterval=", d), rpc.WithHeartbeat(d, 0)},
			tc{fmt.Sprint("HeartbeatTimeout=", d), rpc.WithHeartbeat(time.Millisecond, d)},
			tc{fmt.Sprint("HeartbeatBoth=", d), rpc.WithHeartbeat(d, d)},
			tc{fmt.Sprint("BackoffMin=", d), rpc.WithReconnectBackoff(d, time.Second)},
			tc{fmt.Sprint("BackoffMax=", d), rpc.WithReconnectBackoff(time.Millisecond, d)},
		)
	}
	for _, n := range ints {
		cases = append(cases,
			tc{fmt.Sprint("MaxFrameSize=", n), rpc.WithMaxFrameSize(n)},
			tc{fmt.Sprint("MaxQueuedBytes=", n), rpc.WithMaxQueuedBytes(n)},
			tc{fmt.Sprint("MaxStreamBuffer=", n), rpc.WithMaxStreamBuffer(n)},
		)
		if n != math.MaxInt {
			cases = append(cases, tc{fmt.Sprint("Pool=", n), rpc.WithPool(n, true)})
		}
	}
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		rpc.NewServerWrapper(s).MessagePattern("ping", func(json.RawMessage) (interface{}, error) { return "pong", nil })
	})
	for _, tt := range cases {
		switch tt.name {
		case "DialTimeout=1ns", "MaxFrameSize=1", // a dial bound of 1ns; a reply over 1 unit
			"WriteTimeout=1ns",                          // a write deadline that may pass before the write is tried
			"HeartbeatTimeout=1ns", "HeartbeatBoth=1ns": // a pong due within 1ns: the connection is rightly declared dead
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			c, err := rpc.NewClient(s.Addr().String(), rpc.WithClientLogger(discardLogger()), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			pingsAnswered(t, c, nil, 20*time.Millisecond)
			var n int
			for v, err := range c.Stream(context.Background(), "ping", nil) {
				_ = v
				if err != nil {
					t.Errorf("stream: %v", err)
				}
				n++
			}
		})
	}
}
