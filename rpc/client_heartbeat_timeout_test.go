package rpc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
	"github.com/msgpattern/msgpattern/wire"
)

// TestHeartbeatZeroTimeoutMeansDefault: WithHeartbeat(interval, 0) waits
// the default 30 s for a ping's answer, as the server's zero
// HeartbeatTimeout does. The client took the zero literally: a ping not
// answered within one tick (interval/4) killed the connection, and every
// call on it, at every ping to a server answering in 400 ms.
func TestHeartbeatZeroTimeoutMeansDefault(t *testing.T) {
	t.Parallel()
	fs := startFakeServer(t, func(_ int, req wire.Packet, w func(string)) bool {
		if string(req.Pattern) == `"`+rpc.HeartbeatPattern+`"` {
			time.Sleep(400 * time.Millisecond)
		}
		w(rawFrame(`{"response":true,"isDisposed":true,"id":` + string(req.ID) + `}`))
		return true
	})
	c := newTestClient(t, fs.addr, rpc.WithHeartbeat(200*time.Millisecond, 0), rpc.WithEagerConnect())
	time.Sleep(3 * time.Second)
	if err := c.Send(context.Background(), "x", nil, nil); err != nil {
		t.Fatal(err)
	}
	m := c.Metrics()
	t.Logf("pings %d, heartbeat failures %d, reconnects %d", m.Heartbeats, m.HeartbeatFailures, m.Reconnects)
	if m.HeartbeatFailures > 0 {
		t.Errorf("WithHeartbeat(200ms, 0): %d connections declared dead for a ping answered in 400 ms (want the 30 s default timeout)", m.HeartbeatFailures)
	}
}

// TestClientHeartbeatTimeoutOff: a negative WithHeartbeat timeout turns
// the heartbeat timeout off (pings still go out), as a negative
// HeartbeatTimeout does on the server, and a zero one is the 30 s
// default. With either, the client used to declare a healthy connection
// dead whenever a pong took longer than a tick (interval/4), here 600 ms.
func TestClientHeartbeatTimeoutOff(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
	}{{"negative", -time.Second}, {"zero", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			fake := startFakeServer(t, func(_ int, req wire.Packet, w func(string)) bool {
				if strings.Contains(string(req.Pattern), rpc.HeartbeatPattern) {
					time.Sleep(600 * time.Millisecond) // a busy link: the pong is late, not lost
					w(valueReply(`"pong"`, string(req.ID)))
					return true
				}
				w(valueReply(`"ok"`, string(req.ID)))
				return true
			})
			c := newTestClient(t, fake.addr, rpc.WithHeartbeat(200*time.Millisecond, tc.timeout))
			if err := c.Send(context.Background(), "x", nil, nil); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second) // two pings, each answered after 600 ms
			m := c.Metrics()
			if m.HeartbeatFailures != 0 || m.Reconnects != 0 {
				t.Errorf("WithHeartbeat(200ms, %v): %d heartbeat failures, %d reconnects against a server answering every ping within 600 ms; "+
					"want 0 (negative: off, as the server's HeartbeatTimeout; zero: the 30 s default)", tc.timeout, m.HeartbeatFailures, m.Reconnects)
			}
			if m.Heartbeats == 0 {
				t.Errorf("WithHeartbeat(200ms, %v): no ping sent", tc.timeout)
			}
		})
	}
}
