package natsrpc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestLongReplySubjectKeepsConnection: the client refuses a PUB line over
// the NATS server's 4096-byte max_control_line because "the NATS server
// would drop the connection and every call on it" (doc.go). The server's
// replies are PUB lines too, to a reply subject the sender chose: a sender
// whose own PUB line just fits (a short subject, a tiny body, a reply
// subject of about 4 KiB) makes the reply's line (the same subject, a
// longer size) overflow, and the NATS server drops the serving
// connection, losing every request on it. The sender must get a short
// error reply instead, and the connection must stay up.
func TestLongReplySubjectKeepsConnection(t *testing.T) {
	ns := natstest.Run(t, nil)
	srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger())
	srv.Handle("x", rpc.Typed(func(_ context.Context, n int) (string, error) {
		return strings.Repeat("a", n), nil
	}))
	srv.Handle("slow", rpc.Typed(func(ctx context.Context, ms int) (string, error) {
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return "slept", nil
	}))
	nsrv := natstest.Serve(t, srv, ns.ClientURL())
	caller := natstest.Dial(t, ns.ClientURL())

	// A request in flight on the serving connection.
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		_, err := rpc.Call[int, string](ctx, caller, "slow", 300)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)

	// PUB x <reply> 17: "x <reply> 17" is 4096 bytes, the most the NATS
	// server takes; the reply's "<reply> 20012" is 4098.
	body := []byte(`{"data":20000,"id":1}`)
	reply := "_INBOX." + strings.Repeat("r", 4096-len("x  ")-len("21")-len("_INBOX."))
	attacker := connect(t, ns.ClientURL())
	replies, err := attacker.SubscribeSync(reply)
	if err != nil {
		t.Fatal(err)
	}
	// A small reply to the same reply subject fits, and is sent.
	if err := attacker.PublishRequest("x", reply, []byte(`{"data":2,"id":0}`)); err != nil {
		t.Fatal(err)
	}
	if m, err := replies.NextMsg(2 * time.Second); err != nil || !strings.Contains(string(m.Data), `"aa"`) {
		t.Fatalf("small reply to a long reply subject: %v %s", err, m.Data)
	}
	if err := attacker.PublishRequest("x", reply, body); err != nil {
		t.Fatal(err)
	}
	if err := attacker.Flush(); err != nil {
		t.Fatalf("the sender's own PUB line was refused: %v", err)
	}

	if m, err := replies.NextMsg(2 * time.Second); err != nil {
		t.Errorf("no reply to the long reply subject: %v", err)
	} else {
		t.Logf("reply: %s", m.Data)
	}
	if err := <-done; err != nil {
		t.Errorf("a request in flight on the serving connection failed: %v", err)
	}
	if st := nsrv.Conn().Stats(); st.Reconnects > 0 {
		t.Errorf("the serving connection was dropped by the NATS server (%d reconnects) for a reply's PUB line over max_control_line", st.Reconnects)
	}
	if !nsrv.Conn().IsConnected() {
		t.Errorf("serving connection: %v", nsrv.Conn().Status())
	}
}
