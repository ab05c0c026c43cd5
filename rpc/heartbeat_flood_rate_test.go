package rpc_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestHeartbeatFloodRateLimitedByDefault: docs/SERVER.md says
// heartbeat pings are refused by the rate limit too. With every default
// (100/s, burst 200), one connection sends 600 pings at once: at most the
// burst (and what refills meanwhile) get a pong, the rest the rate-limit
// error; another connection's call is served meanwhile.
func TestHeartbeatFloodRateLimitedByDefault(t *testing.T) {
	s := serverWithBudget(t, 0, func(s2 *rpc.Server) { registerProbe(s2) })
	c := dial(t, s)
	var b strings.Builder
	const pings = 600
	for i := range pings {
		b.WriteString(reqFrame(`"msgpattern:heartbeat"`, `null`, strconv.Itoa(i)))
	}
	start := time.Now()
	c.write(b.String())
	pongs, limited := 0, 0
	for range pings {
		got, err := c.readFrameErr(5 * time.Second)
		if err != nil {
			t.Fatalf("after %d pongs and %d refusals: %v", pongs, limited, err)
		}
		switch {
		case strings.Contains(got, `"pong"`):
			pongs++
		case strings.Contains(got, "Rate limit exceeded"):
			limited++
		default:
			t.Fatalf("unexpected reply %q", clip(got))
		}
	}
	took := time.Since(start)
	if d, err := timedCall(s, "honest", 2*time.Second); err != nil {
		t.Errorf("honest call during the ping flood: %v after %v", err, d)
	}
	allowed := 200 + int(took.Seconds()*100) + 5
	t.Logf("%d pongs, %d refused in %v", pongs, limited, took)
	if pongs > allowed {
		t.Errorf("%d pings answered in %v, rate limit 100/s burst 200 allows about %d", pongs, took, allowed)
	}
}
