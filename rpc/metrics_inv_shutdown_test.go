package rpc_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestDisconnectDuringGracefulShutdownCountedCanceled: a caller that
// closes its connection while a graceful Shutdown waits for its handler
// cancels that handler: canceled ("handlers that returned their context's
// cancellation (disconnect, …)"), not shutting_down ("requests refused
// while shutting down"): nothing was refused.
func TestDisconnectDuringGracefulShutdownCountedCanceled(t *testing.T) {
	t.Parallel()
	s, stop := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("wait", rpc.HandlerFunc(func(ctx context.Context, _ rpc.ResponseWriter, _ *rpc.Request) error {
			<-ctx.Done()
			return ctx.Err()
		}))
	})
	c := dial(t, s)
	c.write(reqFrame(`"wait"`, `null`, `1`))
	if !eventually(5*time.Second, func() bool { return s.GetMetrics().InFlight == 1 }) {
		t.Fatal("never ran")
	}
	addr := s.Addr().String()
	done := make(chan error, 1)
	go func() { done <- stop() }()
	// Shutdown has begun (the listener is closed) before the caller leaves.
	if !eventually(5*time.Second, func() bool {
		_, err := dialErr(addr)
		return err != nil
	}) {
		t.Fatal("Shutdown did not begin")
	}
	c.close()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	m := s.GetMetrics()
	if m.ErrorByKind.Canceled != 1 || m.ErrorByKind.ShuttingDown != 0 {
		t.Errorf("canceled %d, shutting_down %d; want 1, 0", m.ErrorByKind.Canceled, m.ErrorByKind.ShuttingDown)
	}
}

func dialErr(addr string) (net.Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err == nil {
		nc.Close()
	}
	return nc, err
}
