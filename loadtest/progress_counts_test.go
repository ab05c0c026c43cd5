package loadtest_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/loadtest"
)

// TestProgressCountsRequestsWithoutReply: a request that ended without a
// reply (past Timeout, connection lost) is one of the run's requests in
// the Result (Requests counts it, with the errors); the progress reports
// must count it too, or `bench -n 10` shows "0/10 requests (0%)  9 errors
// 0 req/s" for a run nine-tenths done.
func TestProgressCountsRequestsWithoutReply(t *testing.T) {
	var (
		once     sync.Once
		got      loadtest.Progress // the first report with an error
		reported = make(chan struct{})
		calls    atomic.Int32
	)
	res, err := loadtest.RunCalls(context.Background(), loadtest.Config{
		Requests:      2,
		ProgressEvery: time.Millisecond,
		Progress: func(p loadtest.Progress) {
			if p.Errors > 0 {
				once.Do(func() { got = p; close(reported) })
			}
		},
	}, func(ctx context.Context, _ int) (string, error) {
		if calls.Add(1) == 1 {
			return loadtest.KindNoReply, nil // ended without a reply
		}
		<-reported // the second waits until a report shows the first
		return "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 2 || res.Errors != 1 {
		t.Fatalf("result: %d requests, %d errors; want 2 and 1", res.Requests, res.Errors)
	}
	if got.Completed != 1 || got.Errors != 1 {
		t.Errorf("progress after the first request: %d completed, %d errors; want 1 and 1 (as Result counts it)",
			got.Completed, got.Errors)
	}
}
