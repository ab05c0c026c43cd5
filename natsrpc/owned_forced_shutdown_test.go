package natsrpc_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestOwnedConnForcedStopAnswersCancelled: when a forced stop (Close, or
// a Shutdown whose context ends) cancels the handlers still running, their
// callers get an error reply over NATS, where no closing
// connection tells them. With the connection Connect dialled, it was
// closed the moment the handlers were told, before any of them could
// publish: the callers waited out their own timeouts.
func TestOwnedConnForcedStopAnswersCancelled(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(*rpc.Server, *natsrpc.Server)
		want string // the error's message
	}{
		{"Shutdown past its deadline", func(srv *rpc.Server, _ *natsrpc.Server) {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			srv.Shutdown(ctx)
		}, "Server shutting down"},
		// The transport alone stops: the rpc.Server is not shutting down.
		{"Close", func(_ *rpc.Server, ns *natsrpc.Server) { ns.Close() }, "Request cancelled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := natstest.Run(t, nil)
			srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1, RetryAttempts: -1, Timeout: -1}, quietLogger())
			started := make(chan struct{}, 1)
			srv.Handle("hold", rpc.Typed(func(ctx context.Context, _ json.RawMessage) (int, error) {
				started <- struct{}{}
				<-ctx.Done()
				return 0, ctx.Err()
			}))
			served, err := natsrpc.Connect(srv, ns.ClientURL())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { served.Close() })
			caller := connect(t, ns.ClientURL())
			inbox := nats.NewInbox()
			sub, err := caller.SubscribeSync(inbox)
			if err != nil {
				t.Fatal(err)
			}
			caller.PublishRequest("hold", inbox, []byte(`{"pattern":"hold","data":null,"id":"h"}`))
			select {
			case <-started:
			case <-time.After(10 * time.Second):
				t.Fatal("the handler did not start")
			}
			tc.stop(srv, served)
			m, err := sub.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatalf("the cancelled call got no answer: %v", err)
			}
			if !strings.Contains(string(m.Data), `"message":"`+tc.want+`"`) || !strings.Contains(string(m.Data), `"id":"h"`) {
				t.Errorf("cancelled call answered %s; want the error %q", m.Data, tc.want)
			}
		})
	}
}
