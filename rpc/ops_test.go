package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

const timeoutReply100ms = `{"status":"error","message":"Request timed out after 100ms"}`

// TestTimeoutAnsweredAtDeadline: a handler that ignores its context and
// runs far past the deadline does not hold the caller: the timeout error
// comes at the deadline, the late result is dropped, the other requests on
// the connection are unaffected.
func TestTimeoutAnsweredAtDeadline(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	finished := make(chan struct{})
	srv, _ := startServer(t, rpc.Config{Timeout: 100 * time.Millisecond}, func(s *rpc.Server) {
		s.Handle("stubborn", rpc.Func(func(json.RawMessage) (any, error) {
			defer close(finished)
			<-release // ignores any context
			return "too late", nil
		}))
		s.Handle("quick", constant("quick"))
		s.Handle("patient", rpc.ContextFunc(func(ctx context.Context, _ json.RawMessage) (any, error) {
			time.Sleep(300 * time.Millisecond)
			return "patient", ctx.Err()
		}), rpc.WithTimeout(5*time.Second))
	})
	c := dial(t, srv)
	begin := time.Now()
	c.write(reqFrame(`"stubborn"`, "null", "1"))
	c.call(`"quick"`, "null", "2", valueReply(`"quick"`, "2"))
	c.expectFrame(errReply(timeoutReply100ms, "1"))
	if waited := time.Since(begin); waited > 3*time.Second {
		t.Errorf("timeout reply came after %v; want it near the 100ms deadline", waited)
	}
	close(release)
	<-finished
	waitMetric(t, srv, "late_results_dropped", 1, func(m rpc.Metrics) uint64 { return m.ErrorByKind.LateResultsDropped })
	waitMetric(t, srv, "timeout", 1, func(m rpc.Metrics) uint64 { return m.ErrorByKind.Timeout })
	c.expectQuiet() // the late result is not sent

	// WithTimeout overrides Config.Timeout for one pattern.
	c.call(`"patient"`, "null", "3", valueReply(`"patient"`, "3"))
}

// TestMaxConnections: connections past the limit are closed at once and
// counted (in total_connections too); existing ones keep working; capacity
// returns when one closes.
func TestMaxConnections(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, rpc.Config{MaxConnections: 2}, func(s *rpc.Server) {
		s.Handle("ping", constant("pong"))
	})
	a, b := dial(t, srv), dial(t, srv)
	a.call(`"ping"`, "null", "1", valueReply(`"pong"`, "1"))
	b.call(`"ping"`, "null", "1", valueReply(`"pong"`, "1"))
	for i := range 3 {
		extra := dial(t, srv)
		extra.expectClosed()
		waitMetric(t, srv, "rejected_connections", uint64(i+1), func(m rpc.Metrics) uint64 { return m.RejectedConnections })
	}
	// Refused ones are counted in the total too.
	if m := srv.GetMetrics(); m.TotalConnections != 5 {
		t.Errorf("total_connections = %d, want 5 (2 admitted, 3 refused)", m.TotalConnections)
	}
	a.call(`"ping"`, "null", "2", valueReply(`"pong"`, "2"))
	b.close()
	waitMetric(t, srv, "active_connections", 1, func(m rpc.Metrics) int64 { return m.ActiveConnections })
	dial(t, srv).call(`"ping"`, "null", "3", valueReply(`"pong"`, "3"))
}

// TestRateLimitPerConnection: past the burst, requests are refused at once
// with a clear error and not run, events are dropped; other connections
// keep their own budget; a negative limit turns limiting off.
func TestRateLimitPerConnection(t *testing.T) {
	t.Parallel()
	var ran, events atomic.Int32
	srv, _ := startServer(t, rpc.Config{RateLimitPerSec: 1, RateLimitBurst: 3}, func(s *rpc.Server) {
		s.Handle("work", rpc.Func(func(json.RawMessage) (any, error) { ran.Add(1); return "done", nil }))
		s.HandleEvent("evt", rpc.Event(func(context.Context, json.RawMessage) error { events.Add(1); return nil }))
	})
	limited := `{"status":"error","message":"Rate limit exceeded"}`
	c := dial(t, srv)
	for i := range 3 {
		id := string(rune('1' + i))
		c.call(`"work"`, "null", id, valueReply(`"done"`, id))
	}
	// In one write, so that no token comes back meanwhile: a request, a
	// heartbeat ping (a message too: it cannot pass the limit) and an event
	// (dropped silently).
	c.write(reqFrame(`"work"`, "null", "4") + reqFrame(`"msgpattern:heartbeat"`, "null", "5") + reqFrame(`"evt"`, "null", ""))
	c.expectFrame(errReply(limited, "4"))
	c.expectFrame(errReply(limited, "5"))
	waitMetric(t, srv, "rate_limited_events", 1, func(m rpc.Metrics) uint64 { return m.ErrorByKind.RateLimitedEvents })
	if ran.Load() != 3 || events.Load() != 0 {
		t.Errorf("handlers ran %d times and events %d; want 3 and 0", ran.Load(), events.Load())
	}
	waitMetric(t, srv, "rate_limited", 2, func(m rpc.Metrics) uint64 { return m.ErrorByKind.RateLimited })

	other := dial(t, srv)
	other.call(`"work"`, "null", "1", valueReply(`"done"`, "1"))

	off, _ := startServer(t, rpc.Config{RateLimitPerSec: -1}, func(s *rpc.Server) { s.Handle("work", constant("done")) })
	oc := dial(t, off)
	for range 500 {
		oc.write(reqFrame(`"work"`, "null", "7"))
	}
	for range 500 {
		oc.expectFrame(valueReply(`"done"`, "7"))
	}
}

// TestGlobalRateLimit: the server-wide limit is shared by all connections.
func TestGlobalRateLimit(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, rpc.Config{GlobalRateLimitPerSec: 1, GlobalRateLimitBurst: 2}, func(s *rpc.Server) {
		s.Handle("work", constant("done"))
	})
	a, b := dial(t, srv), dial(t, srv)
	a.call(`"work"`, "null", "1", valueReply(`"done"`, "1"))
	b.call(`"work"`, "null", "1", valueReply(`"done"`, "1"))
	a.call(`"work"`, "null", "2", errReply(`{"status":"error","message":"Rate limit exceeded"}`, "2"))

	// Without a burst, the burst is twice the rate (as per connection): a
	// quick run of requests well within the rate is served, not refused
	// after the first.
	srv, _ = startServer(t, rpc.Config{GlobalRateLimitPerSec: 1000}, func(s *rpc.Server) {
		s.Handle("work", constant("done"))
	})
	c := dial(t, srv)
	for i := range 10 {
		id := strconv.Itoa(i)
		c.call(`"work"`, "null", id, valueReply(`"done"`, id))
	}
}

// TestRetries: errors marked Transient (and a client's ErrUnavailable)
// are retried with backoff until success; plain errors, deliberate errors,
// bad input and panics are answered at once; WithoutRetry and a negative
// RetryAttempts turn retries off; a retry never passes the deadline.
func TestRetries(t *testing.T) {
	t.Parallel()
	var flaky, deliberate, panicky, once, decode, plain, unavailable atomic.Int32
	srv, _ := startServer(t, rpc.Config{RetryAttempts: 3, RetryDelay: 10 * time.Millisecond}, func(s *rpc.Server) {
		s.Handle("flaky", rpc.Func(func(json.RawMessage) (any, error) {
			if flaky.Add(1) < 3 {
				return nil, rpc.Transient(errors.New("transient"))
			}
			return "ok", nil
		}))
		s.Handle("plain", rpc.Func(func(json.RawMessage) (any, error) {
			plain.Add(1)
			return nil, errors.New("deterministic failure")
		}))
		s.Handle("downstream-down", rpc.Func(func(json.RawMessage) (any, error) {
			unavailable.Add(1)
			return nil, fmt.Errorf("calling downstream: %w", rpc.ErrUnavailable)
		}))
		s.Handle("deliberate", rpc.Func(func(json.RawMessage) (any, error) {
			deliberate.Add(1)
			return nil, rpc.NewError("no")
		}))
		s.Handle("panicky", rpc.Func(func(json.RawMessage) (any, error) {
			panicky.Add(1)
			panic("boom")
		}))
		s.Handle("once", rpc.Func(func(json.RawMessage) (any, error) {
			once.Add(1)
			return nil, rpc.Transient(errors.New("not idempotent"))
		}), rpc.WithoutRetry())
		s.Handle("typed", rpc.Typed(func(context.Context, int) (int, error) {
			decode.Add(1)
			return 0, nil
		}))
	})
	c := dial(t, srv)
	c.call(`"flaky"`, "null", "1", valueReply(`"ok"`, "1"))
	c.call(`"deliberate"`, "null", "2", errReply(`{"status":"error","message":"no"}`, "2"))
	c.call(`"panicky"`, "null", "3", errReply(internalError, "3"))
	c.call(`"once"`, "null", "4", errReply(internalError, "4"))
	c.write(reqFrame(`"typed"`, `"not a number"`, "5"))
	if f := c.readFrame(); !strings.Contains(f, "invalid data for pattern typed") {
		t.Errorf("typed handler with bad data: got %s", f)
	}
	begin := time.Now()
	c.call(`"plain"`, "null", "6", errReply(internalError, "6"))
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("a plain error answered after %v", d)
	}
	c.call(`"downstream-down"`, "null", "7", errReply(internalError, "7"))
	got := [7]int32{flaky.Load(), deliberate.Load(), panicky.Load(), once.Load(), decode.Load(), plain.Load(), unavailable.Load()}
	if want := [7]int32{3, 1, 1, 1, 0, 1, 4}; got != want {
		t.Errorf("attempts (flaky, deliberate, panicky, once, typed, plain, unavailable) = %v, want %v", got, want)
	}
	waitMetric(t, srv, "retries", 5, func(m rpc.Metrics) uint64 { return m.Retries })

	// Backoff from 1s cannot fit in a 200ms deadline: one attempt, then the error.
	var slow atomic.Int32
	tight, _ := startServer(t, rpc.Config{RetryAttempts: 3, RetryDelay: time.Second, Timeout: 200 * time.Millisecond}, func(s *rpc.Server) {
		s.Handle("fail", rpc.Func(func(json.RawMessage) (any, error) { slow.Add(1); return nil, rpc.Transient(errors.New("transient")) }))
	})
	begin = time.Now()
	dial(t, tight).call(`"fail"`, "null", "1", errReply(internalError, "1"))
	if d := time.Since(begin); d > 150*time.Millisecond*10 || slow.Load() != 1 {
		t.Errorf("with a deadline shorter than the backoff: %d attempts in %v, want 1 attempt and an answer well before the backoff", slow.Load(), d)
	}
}

// TestHeartbeat: a ping gets a pong at once; a peer that has pinged and
// then falls silent is closed after HeartbeatTimeout and counted; a peer
// that never pings (a NestJS client) is never held to it.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	// Pings 100 ms apart against a 1 s timeout: a loaded machine (-race,
	// 2 cores) once stretched a gap past a 300 ms one.
	srv, _ := startServer(t, rpc.Config{HeartbeatInterval: 50 * time.Millisecond, HeartbeatTimeout: time.Second}, func(s *rpc.Server) {
		s.Handle("ping", constant("pong"))
	})
	nest := dial(t, srv) // never pings
	nest.call(`"ping"`, "null", "1", valueReply(`"pong"`, "1"))

	c := dial(t, srv)
	c.call(`"`+rpc.HeartbeatPattern+`"`, "null", `"hb1"`, valueReply(`"pong"`, `"hb1"`))
	// Keep pinging for a while: the connection stays up.
	for i := range 5 {
		time.Sleep(100 * time.Millisecond)
		id := `"hb` + string(rune('2'+i)) + `"`
		c.call(`"`+rpc.HeartbeatPattern+`"`, "null", id, valueReply(`"pong"`, id))
	}
	// Then go silent, as a peer behind a dead link would: closed.
	begin := time.Now()
	c.expectClosed()
	if d := time.Since(begin); d < 750*time.Millisecond {
		t.Errorf("closed after %v of silence; HeartbeatTimeout is 1s", d)
	}
	waitMetric(t, srv, "heartbeats.failed", 1, func(m rpc.Metrics) uint64 { return m.Heartbeats.Failed })
	m := srv.GetMetrics()
	if m.Heartbeats.Received != 6 || m.Heartbeats.Sent != 6 {
		t.Errorf("heartbeats received %d, sent %d; want 6 and 6", m.Heartbeats.Received, m.Heartbeats.Sent)
	}
	if m.Requests != 1 {
		t.Errorf("heartbeats must not count as requests: requests = %d, want 1", m.Requests)
	}
	// The silent NestJS-style peer outlived the heartbeat timeout.
	nest.call(`"ping"`, "null", "2", valueReply(`"pong"`, "2"))
}

// TestHeartbeatThroughStalledProxy: a peer behind a proxy that stops
// forwarding (a half-open path: nothing is closed, nothing arrives) is
// detected by heartbeats within HeartbeatTimeout.
func TestHeartbeatThroughStalledProxy(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, rpc.Config{HeartbeatInterval: 50 * time.Millisecond, HeartbeatTimeout: 300 * time.Millisecond}, nil)
	px := startStallingProxy(t, srv.Addr().String())
	nc, err := net.Dial("tcp", px.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &client{t: t, nc: nc, br: newReader(nc)}
	c.call(`"`+rpc.HeartbeatPattern+`"`, "null", "1", valueReply(`"pong"`, "1"))
	px.stall()
	begin := time.Now()
	waitMetric(t, srv, "heartbeats.failed", 1, func(m rpc.Metrics) uint64 { return m.Heartbeats.Failed })
	t.Logf("dead peer detected %v after the path stalled (HeartbeatTimeout 300ms)", time.Since(begin))
	waitMetric(t, srv, "active_connections", 0, func(m rpc.Metrics) int64 { return m.ActiveConnections })
}
