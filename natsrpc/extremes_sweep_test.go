package natsrpc_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestOptionExtremes: natsrpc's options, and Config.MaxHandlers, at 0, -1,
// 1 and their largest value still serve calls and a stream.
func TestOptionExtremes(t *testing.T) {
	ns := natstest.Run(t, nil)
	for _, n := range []int{0, -1, 1, math.MaxInt} {
		for _, tt := range []struct {
			name string
			cfg  rpc.Config
			opts []natsrpc.Option
			copt []natsrpc.ClientOption
		}{
			{name: "MaxConcurrent", opts: []natsrpc.Option{natsrpc.WithMaxConcurrent(n)}},
			{name: "MaxHandlers", cfg: rpc.Config{MaxHandlers: n}},
			{name: "MaxStreamBuffer", copt: []natsrpc.ClientOption{natsrpc.WithMaxStreamBuffer(n)}},
			{name: "CallTimeout", copt: []natsrpc.ClientOption{natsrpc.WithCallTimeout(time.Duration(n))}},
			{name: "CallTimeoutMax", copt: []natsrpc.ClientOption{natsrpc.WithCallTimeout(time.Duration(math.MaxInt64))}},
		} {
			if tt.name == "MaxStreamBuffer" && n == 1 { // a consumer one value behind overflows, as documented
				continue
			}
			t.Run(fmt.Sprint(tt.name, "=", n), func(t *testing.T) {
				startInstance(t, ns.ClientURL(), tt.cfg, tt.opts...)
				nc, err := nats.Connect(ns.ClientURL())
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				c, err := natsrpc.NewClient(nc, tt.copt...)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				for i := range 3 {
					got, err := rpc.Call[[]int, int](ctxT(t, 5*time.Second), c, "sum", []int{1, 2})
					if err != nil || got != 3 {
						t.Errorf("call %d: %v, %v", i, got, err)
					}
				}
				var k int
				for _, err := range rpc.StreamOf[int](ctxT(t, 5*time.Second), c, "ticks", nil) {
					if err != nil {
						t.Errorf("stream: %v", err)
					}
					k++
				}
				if k != 3 {
					t.Errorf("stream: %d values", k)
				}
			})
		}
	}
}
