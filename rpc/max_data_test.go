package rpc_test

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestWithMaxDataBytes: a message whose data is longer than its pattern's
// bound is refused before the handler runs (a request with an error
// reply, an event dropped); one within it is served, on the same
// connection.
func TestWithMaxDataBytes(t *testing.T) {
	var ran atomic.Int32
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("small", rpc.Func(func(data json.RawMessage) (any, error) {
			ran.Add(1)
			return len(data), nil
		}), rpc.WithMaxDataBytes(100))
	})
	c := dial(t, s)
	big := `"` + strings.Repeat("x", 200) + `"`
	c.write(reqFrame(`"small"`, big, `1`))
	if f, want := c.readFrame(), errReply(`{"status":"error","message":"Data too large (202 bytes; at most 100)"}`, `1`); f != want {
		t.Fatalf("over the bound: got %s, want %s", f, want)
	}
	c.write(reqFrame(`"small"`, big, ``)) // an event: dropped
	c.write(reqFrame(`"small"`, `[1,2]`, `2`))
	if f, want := c.readFrame(), valueReply(`5`, `2`); f != want {
		t.Fatalf("within the bound: got %s, want %s", f, want)
	}
	if n := ran.Load(); n != 1 {
		t.Fatalf("the handler ran %d times, want 1", n)
	}
}
