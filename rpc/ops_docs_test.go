package rpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestLineFramedRequestOverRateLimitAnswered: on line framing a message
// without an id to a message handler is a request, answered without an id
// (docs/SERVER.md); over the rate limit it must be refused as one, with
// "Rate limit exceeded" and counted rate_limited, not dropped silently as
// an event.
func TestLineFramedRequestOverRateLimitAnswered(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, rpc.Config{RateLimitPerSec: 1, RateLimitBurst: 1}, func(s *rpc.Server) {
		s.Handle("work", constant("done"))
	})
	c := dial(t, srv)
	c.write(`{"pattern":"work","data":null}` + "\n" + `{"pattern":"work","data":null}` + "\n")
	if got, want := c.readLine(), `{"response":"done","isDisposed":true}`+"\n"; got != want {
		t.Fatalf("first line: %q, want %q", got, want)
	}
	c.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	got, err := c.br.ReadString('\n')
	if want := `{"err":{"status":"error","message":"Rate limit exceeded"},"isDisposed":true}` + "\n"; err != nil || got != want {
		t.Errorf("request over the rate limit: got %q (%v), want %q", got, err, want)
	}
	m := srv.GetMetrics()
	if m.ErrorByKind.RateLimited != 1 || m.ErrorByKind.RateLimitedEvents != 0 {
		t.Errorf("rate_limited = %d, rate_limited_events = %d; want 1 and 0 (requests = %d)",
			m.ErrorByKind.RateLimited, m.ErrorByKind.RateLimitedEvents, m.Requests)
	}
}

// TestHeartbeatPeerSilentMidFrameClosed: a peer that has pinged is closed
// when silent for HeartbeatTimeout (Config, docs/SERVER.md: "a peer behind
// a dead path: heartbeat peers: closed after HeartbeatTimeout"), also when
// the path dies in the middle of a frame, not only after FrameTimeout.
func TestHeartbeatPeerSilentMidFrameClosed(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, rpc.Config{HeartbeatInterval: 100 * time.Millisecond, HeartbeatTimeout: 500 * time.Millisecond, FrameTimeout: 5 * time.Second}, nil)
	c := dial(t, srv)
	c.call(`"`+rpc.HeartbeatPattern+`"`, "null", "1", valueReply(`"pong"`, "1"))
	c.write(`40#{"pattern":"x",`) // then nothing: the path died
	begin := time.Now()
	c.nc.SetReadDeadline(time.Now().Add(8 * time.Second))
	_, err := c.br.ReadByte()
	d := time.Since(begin)
	if !closedErr(err) || d > 2500*time.Millisecond {
		t.Errorf("peer silent mid-frame closed after %v (%v); HeartbeatTimeout is 500ms, FrameTimeout 5s", d, err)
	}
	waitMetric(t, srv, "heartbeats.failed", 1, func(m rpc.Metrics) uint64 { return m.Heartbeats.Failed })
}

// TestProcessingTimeIncludesWaitToStart pins what processing_time_ms
// measures: from each message's read to its handler's return. Three
// requests read together on a connection with MaxInFlight 1, each handler
// taking 200 ms, make about 200+400+600 ms, not the 600 ms spent in
// handlers (the godoc said "total handler time", Prometheus "Time spent in
// handlers").
func TestProcessingTimeIncludesWaitToStart(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, rpc.Config{MaxInFlight: 1}, func(s *rpc.Server) {
		s.Handle("slow", rpc.ContextFunc(func(context.Context, json.RawMessage) (any, error) {
			time.Sleep(200 * time.Millisecond)
			return "ok", nil
		}))
	})
	c := dial(t, srv)
	c.write(reqFrame(`"slow"`, "null", "1") + reqFrame(`"slow"`, "null", "2") + reqFrame(`"slow"`, "null", "3"))
	for range 3 {
		c.readFrame()
	}
	waitMetric(t, srv, "requests", 3, func(m rpc.Metrics) uint64 { return m.Requests })
	if ms := srv.GetMetrics().ProcessingTimeMs; ms < 1000 {
		t.Errorf("processing_time_ms = %.0f; want about 1200 (waits to start included)", ms)
	}
}

// TestQueuedRequestWaitsForStubbornHandler pins what docs/SERVER.md says
// of a handler that ignores its context: its own request is answered at
// its deadline, but it keeps its MaxInFlight slot until it returns, so a
// request read behind it waits until then and, its deadline passed, is
// answered with the timeout error (its handler starts with its context
// ended; its result is dropped).
func TestQueuedRequestWaitsForStubbornHandler(t *testing.T) {
	t.Parallel()
	const stubborn = 600 * time.Millisecond
	srv, _ := startServer(t, rpc.Config{MaxInFlight: 1, Timeout: 100 * time.Millisecond}, func(s *rpc.Server) {
		s.Handle("stubborn", rpc.Func(func(json.RawMessage) (any, error) {
			time.Sleep(stubborn) // ignores its context
			return "late", nil
		}))
		s.Handle("quick", constant("q"))
	})
	c := dial(t, srv)
	begin := time.Now()
	c.write(reqFrame(`"stubborn"`, "null", "1") + reqFrame(`"quick"`, "null", "2"))
	c.expectFrame(errReply(timeoutReply100ms, "1"))
	if d := time.Since(begin); d > stubborn/2 {
		t.Errorf("the stubborn handler's own request answered after %v; want at its 100ms deadline", d)
	}
	c.expectFrame(errReply(timeoutReply100ms, "2"))
	if d := time.Since(begin); d < stubborn {
		t.Errorf("request 2 answered after %v, before the handler holding the only slot returned (%v)", d, stubborn)
	}
}
