package rpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// panicOnMarshal is call data whose encoding panics (a MarshalJSON with a
// bug).
type panicOnMarshal struct{}

func (panicOnMarshal) MarshalJSON() ([]byte, error) { panic("marshal boom") }

// TestClientCallPanicForgotten: a call whose data panics while it is
// encoded lets the panic through to its caller, and leaves nothing behind:
// it was registered first, and stayed pending and counted in flight, so
// that the connection never again had one call alone on it.
func TestClientCallPanicForgotten(t *testing.T) {
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("ping", rpc.Func(func(json.RawMessage) (any, error) { return "pong", nil }))
	})
	c, err := rpc.NewClient(s.Addr().String(), rpc.WithClientLogger(discardLogger()), rpc.WithHeartbeat(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Send(ctx, "ping", nil, nil); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("Send of data whose MarshalJSON panics did not panic")
				}
			}()
			c.Send(ctx, "ping", panicOnMarshal{}, nil)
		}()
	}
	if n := c.Metrics().InFlight; n != 0 {
		t.Errorf("in_flight = %d after three calls that panicked, want 0", n)
	}
	var out string
	if err := c.Send(ctx, "ping", nil, &out); err != nil || out != "pong" {
		t.Errorf("a call after the panics: %q, %v", out, err)
	}
}
