package rpc_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestShutdownCutCountsEachHandlerOnce: ErrorCounts.ShutdownCut
// "counts handlers still running when Shutdown's context ended". Shutdown
// may be called concurrently ("Every call waits for the drain, also one
// made while another is in progress"); when two such calls give up, each
// adds every handler still in flight, so one handler cut off is counted
// twice.
func TestShutdownCutCountsEachHandlerOnce(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	srv, _ := startServer(t, rpc.Config{Timeout: time.Minute}, func(s *rpc.Server) {
		s.Handle("stuck", rpc.HandlerFunc(func(context.Context, rpc.ResponseWriter, *rpc.Request) error {
			started <- struct{}{}
			<-release // ignores its context, as Shutdown's doc allows
			return nil
		}))
	})
	defer close(release)
	c := dial(t, srv)
	c.write(reqFrame(`"stuck"`, `null`, `1`))
	<-started

	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			srv.Shutdown(ctx)
		}()
	}
	wg.Wait()
	if cut := srv.GetMetrics().ErrorByKind.ShutdownCut; cut != 1 {
		t.Errorf("one handler was cut off by two concurrent Shutdown calls; shutdown_cut = %d, want 1", cut)
	}
}
