package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
	"github.com/msgpattern/msgpattern/wire"
)

// TestClientDeepReplyNotLost: a server answers a call with a valid
// reply, carrying the call's id, whose value is nested 1001 deep (JSON.parse
// in a NestJS client takes it). README's table says an object carrying a
// pending call's id is that call's. The client instead drops the frame as
// "not a reply" (wire.ParseReply's default depth 1000), and the call
// waits, silently, until its deadline: without one, forever, although the
// server answered at once.
func TestClientDeepReplyNotLost(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", 1001) + strings.Repeat("]", 1001)
	fs := startFakeServer(t, func(_ int, req wire.Packet, w func(string)) bool {
		if string(req.Pattern) == `"deep"` {
			w(rawFrame(`{"response":` + deep + `,"isDisposed":true,"id":` + string(req.ID) + `}`))
		} else {
			w(rawFrame(`{"response":"ok","isDisposed":true,"id":` + string(req.ID) + `}`))
		}
		return true
	})
	c := newTestClient(t, fs.addr, rpc.WithHeartbeat(0, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out json.RawMessage
	start := time.Now()
	err := c.Send(ctx, "deep", nil, &out)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send(deep) = %v after %v: the server answered at once, but the reply was dropped and the call waited for its deadline; want the value (as NestJS) or a clear error", err, time.Since(start).Round(time.Millisecond))
	}
	t.Logf("Send(deep) = %d bytes, %v", len(out), err)
}
