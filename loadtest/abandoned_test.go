package loadtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/loadtest"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestAbandonedRunIsNotNoReply: a run cut short by its ctx (msgpattern
// bench's Ctrl-C) returns what it measured so far. The requests still in
// flight were abandoned by the caller, not lost by the server: they are not
// no_reply ("connection closed, or DrainTimeout passed"), which a run that
// ends by its Duration never reports either. Run and RunCalls alike.
func TestAbandonedRunIsNotNoReply(t *testing.T) {
	srv := startServer(t, rpc.Config{})
	cfg := loadtest.Config{
		Addr: srv.Addr().String(), Connections: 2, InFlight: 8, Duration: 10 * time.Second,
		Pattern: []byte(`"late"`), // 150 ms each: requests are always in flight when ctx ends
	}
	c, err := rpc.NewClient(srv.Addr().String(), rpc.WithHeartbeat(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tt := range []struct {
		name string
		run  func(ctx context.Context) (loadtest.Result, error)
	}{
		{"Run", func(ctx context.Context) (loadtest.Result, error) { return loadtest.Run(ctx, cfg) }},
		{"RunCalls", func(ctx context.Context) (loadtest.Result, error) {
			return loadtest.RunCalls(ctx, cfg, func(ctx context.Context, _ int) (string, error) {
				if err := c.Send(ctx, "late", nil, nil); err != nil {
					return loadtest.KindNoReply, nil
				}
				return "", nil
			})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// 1.5 s: ten "late" requests' time, so that some are measured
			// before ctx ends even when dialing and scheduling are slow.
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			res, _ := tt.run(ctx)
			if res.Requests == 0 {
				t.Fatalf("nothing measured: %+v", res)
			}
			if n := res.ByKind[loadtest.KindNoReply]; n != 0 || res.Errors != 0 {
				t.Errorf("interrupted run: %d errors %v; want none (the server answered every request it was given time for)", res.Errors, res.ByKind)
			}
		})
	}
}
