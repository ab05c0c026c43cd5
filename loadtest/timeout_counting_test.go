package loadtest_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/loadtest"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestTimeoutLateReplyIsDeadline: Config.Timeout says a request
// "still without its final reply this long after it was sent counts as a
// KindDeadline error". Expiry is only checked on a ticker (Timeout/10,
// capped at 100ms), and the reader credits any reply whose slot has not
// been expired yet: a reply that came after Timeout but before the next
// tick was counted as a success, with a latency above Timeout in the
// percentiles and Max. Here every reply comes at least 103ms after a
// 100ms Timeout: each must be deadline_exceeded, none in the latencies.
func TestTimeoutLateReplyIsDeadline(t *testing.T) {
	cfg := rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1}
	srv := rpc.NewServer(&cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv.Handle("slightlylate", rpc.Func(func(json.RawMessage) (any, error) {
		time.Sleep(103 * time.Millisecond)
		return 1, nil
	}))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })

	const timeout = 100 * time.Millisecond
	const n = 40
	// Paced, so that the requests are sent at every phase of the expiry
	// ticker.
	res, err := loadtest.Run(context.Background(), loadtest.Config{
		Addr: srv.Addr().String(), InFlight: n, Requests: n, Rate: 200,
		Timeout: timeout, Pattern: []byte(`"slightlylate"`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != n || res.ByKind[loadtest.KindDeadline] != n || res.Latency.Max > timeout {
		t.Errorf("Timeout %s, every reply after >= 103ms: %d requests, errors %v, latency max %s p50 %s; want %d deadline_exceeded and no latency above the Timeout",
			timeout, res.Requests, res.ByKind, res.Latency.Max, res.Latency.P50, n)
	}
}

// TestRunCallsDeadlineKindCountedOnce: RunCalls lets call return
// "one of the Kind constants". A call that reports KindDeadline itself (its
// transport's own deadline, e.g. with no Config.Timeout) went into the
// completed count and ByKind, and measure then added ByKind[deadline] to
// Requests once more: 10 calls were reported as 20 requests, doubling RPS
// and halving the error rate.
func TestRunCallsDeadlineKindCountedOnce(t *testing.T) {
	const n = 10
	res, err := loadtest.RunCalls(context.Background(), loadtest.Config{Requests: n},
		func(ctx context.Context, _ int) (string, error) { return loadtest.KindDeadline, nil })
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != n || res.Errors != n || res.ByKind[loadtest.KindDeadline] != n {
		t.Errorf("%d calls, each deadline_exceeded: requests %d, errors %d %v; want %d, %d", n, res.Requests, res.Errors, res.ByKind, n, n)
	}
}
