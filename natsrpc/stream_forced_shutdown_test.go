package natsrpc_test

import (
	"context"
	"encoding/json"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestStreamCutByShutdownNotComplete: a Shutdown whose context ends cancels
// the handlers still running, and over NATS (its own connection still
// open) their callers get "Server shutting down" (docs/SERVER.md). A
// stream whose sequence stops at ctx's end, as rpc.Stream asks, was
// completed instead ({"isDisposed":true}): the caller took the values
// sent so far for the whole stream.
func TestStreamCutByShutdownNotComplete(t *testing.T) {
	ns := natstest.Run(t, nil)
	srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1, RetryAttempts: -1, Timeout: -1}, quietLogger())
	srv.Handle("ticks", rpc.Stream(func(ctx context.Context, _ json.RawMessage) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			if !yield(1, nil) {
				return
			}
			<-ctx.Done()
		}
	}))
	nc := connect(t, ns.ClientURL()) // ours: open after Shutdown
	if _, err := natsrpc.Serve(srv, nc); err != nil {
		t.Fatal(err)
	}
	caller := connect(t, ns.ClientURL())
	inbox := nats.NewInbox()
	sub, err := caller.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	caller.PublishRequest("ticks", inbox, []byte(`{"pattern":"ticks","data":null,"id":"s"}`))
	if m, err := sub.NextMsg(5 * time.Second); err != nil || string(m.Data) != `{"response":1,"id":"s"}` {
		t.Fatalf("first value: %s, %v", m.Data, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	srv.Shutdown(ctx) // its context ends while the stream runs
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("no end of the stream: %v", err)
	}
	if !strings.Contains(string(m.Data), "Server shutting down") {
		t.Errorf("stream cut by Shutdown ended with %s; want the Server shutting down error", m.Data)
	}
}
