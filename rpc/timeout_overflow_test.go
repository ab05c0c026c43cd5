package rpc_test

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestHugeTimeoutIsNoDeadline: a Timeout (or WithTimeout) so long that it
// never ends — time.Duration(math.MaxInt64), the usual "forever" — must not
// time requests out. The deadline was computed as the read's monotonic
// time plus the timeout, which overflows once the process has run at all:
// the deadline came out negative, already passed, and every request was
// answered "Request timed out after 2562047h47m16.854775807s" at once,
// its handler's context ended before it began.
func TestHugeTimeoutIsNoDeadline(t *testing.T) {
	const forever = time.Duration(math.MaxInt64)
	time.Sleep(time.Millisecond) // the server's clock has run (it has in any real process)
	handler := rpc.ContextFunc(func(ctx context.Context, d json.RawMessage) (any, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < time.Hour {
			return "deadline " + time.Until(dl).String(), nil
		}
		return d, nil
	})
	cases := []struct {
		name string
		cfg  rpc.Config
		opts []rpc.HandleOption
	}{
		{"Config.Timeout", rpc.Config{Timeout: forever}, nil},
		{"WithTimeout", rpc.Config{}, []rpc.HandleOption{rpc.WithTimeout(forever)}},
		{"Config.Timeout, nearly", rpc.Config{Timeout: forever - time.Microsecond}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := startServer(t, tc.cfg, func(s *rpc.Server) {
				s.Handle("echo", handler, tc.opts...)
			})
			c := dial(t, s)
			c.call(`"echo"`, `1`, `1`, valueReply(`1`, `1`))
			if m := s.GetMetrics(); m.ErrorByKind.Timeout != 0 {
				t.Errorf("timeouts = %d, want 0", m.ErrorByKind.Timeout)
			}
		})
	}
}
