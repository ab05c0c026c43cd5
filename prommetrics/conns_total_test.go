package prommetrics

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestConnectionsTotalIncludesRejected: msgpattern_connections_total
// counts every connection accepted, as its HELP says, those refused at
// MaxConnections included (rpc used to count only the admitted ones), so
// that connections_rejected_total is a share of it.
func TestConnectionsTotalIncludesRejected(t *testing.T) {
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", MaxConnections: 1, EvictIdleAfter: -1, RateLimitPerSec: -1}, quietLogger)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	wait := func(what string, cond func(rpc.Metrics) bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			if cond(srv.GetMetrics()) {
				return
			}
		}
		t.Fatalf("timed out waiting for %s: %+v", what, srv.GetMetrics())
	}
	first, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	wait("the first connection", func(m rpc.Metrics) bool { return m.ActiveConnections == 1 })
	second, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	wait("the second connection to be refused", func(m rpc.Metrics) bool { return m.RejectedConnections == 1 })

	m := srv.GetMetrics()
	t.Logf("total_connections=%d rejected_connections=%d active=%d", m.TotalConnections, m.RejectedConnections, m.ActiveConnections)
	c := NewCollector(srv)
	want := `
# HELP msgpattern_connections_total Connections accepted, rejected ones included.
# TYPE msgpattern_connections_total counter
msgpattern_connections_total 2
# HELP msgpattern_connections_rejected_total Connections closed on accept at MaxConnections.
# TYPE msgpattern_connections_rejected_total counter
msgpattern_connections_rejected_total 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "msgpattern_connections_total", "msgpattern_connections_rejected_total"); err != nil {
		t.Errorf("two connections accepted, one of them rejected: %v", err)
	}
}
