package loadtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/loadtest"
)

// TestRunCallsLateSuccessIsDeadline: Config.Timeout says a request "still
// without its final reply this long after it was sent counts as a
// KindDeadline error", and Run counts a reply read at or after Timeout so
// (never in the latencies). RunCalls counted a call that returned success
// after its deadline (its reply raced the ctx, or the transport noticed the
// ctx late) as a success, its latency over Timeout in the percentiles:
// `msgpattern bench --nats --timeout` reported p99 above the timeout and no
// deadline_exceeded, where the same server over TCP would count them.
func TestRunCallsLateSuccessIsDeadline(t *testing.T) {
	const timeout = 20 * time.Millisecond
	res, err := loadtest.RunCalls(context.Background(), loadtest.Config{Requests: 3, Timeout: timeout},
		func(ctx context.Context, _ int) (string, error) {
			<-ctx.Done()                     // the deadline passed…
			time.Sleep(5 * time.Millisecond) // …and the reply is taken all the same
			return "", nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if res.ByKind[loadtest.KindDeadline] != 3 || res.Latency.Max >= timeout {
		t.Errorf("3 calls answered after their %v Timeout: %d deadline_exceeded (%v), latency max %v; want 3, none in the latencies",
			timeout, res.ByKind[loadtest.KindDeadline], res.ByKind, res.Latency.Max)
	}
}
