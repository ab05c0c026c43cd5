package natsrpc_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/rpc"
)

// lineCounter is a slog.Handler that counts records by message.
type lineCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *lineCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *lineCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[r.Message]++
	return nil
}
func (c *lineCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *lineCounter) WithGroup(string) slog.Handler      { return c }
func (c *lineCounter) total() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	var b strings.Builder
	for k, v := range c.n {
		n += v
		b.WriteString(k + "=" + itoa(v) + "; ")
	}
	return n, b.String()
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// TestBadInputLogRateLimited: docs/SERVER.md promises "a flood of bad
// input: logged at most 10 lines a second, with a count of what was
// suppressed". Over NATS too: natsrpc used to log every invalid packet
// once more ("natsrpc: message not served", to slog.Default()) with no
// rate limit. Both the server's logger and slog.Default() are counted.
func TestBadInputLogRateLimited(t *testing.T) {
	logs := &lineCounter{n: map[string]int{}}
	old := slog.Default()
	slog.SetDefault(slog.New(logs))
	t.Cleanup(func() { slog.SetDefault(old) })

	ns := natstest.Run(t, nil)
	srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1, RetryAttempts: -1}, slog.New(logs))
	srv.Handle("sum", rpc.Func(func(json.RawMessage) (any, error) { return 0, nil }))
	natstest.Serve(t, srv, ns.ClientURL())

	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const n = 300
	for range n {
		if err := nc.Publish("sum", []byte("{not json")); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for deadline := time.Now().Add(10 * time.Second); srv.GetMetrics().ErrorByKind.BadFrame < n && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if got := srv.GetMetrics().ErrorByKind.BadFrame; got != n {
		t.Fatalf("bad_frame = %d, want %d", got, n)
	}
	elapsed := time.Since(start)
	lines, byMsg := logs.total()
	// At most 10 a second, plus one window of slack.
	allowed := 10 * (int(elapsed/time.Second) + 2)
	t.Logf("%d bad packets in %v: %d log lines (%s)", n, elapsed, lines, byMsg)
	if lines > allowed {
		t.Errorf("%d log lines for %d bad packets in %v, want at most %d (10 a second)", lines, n, elapsed, allowed)
	}
}
