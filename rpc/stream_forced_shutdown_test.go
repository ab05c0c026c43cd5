package rpc_test

import (
	"context"
	"encoding/json"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestStreamStoppedByForcedShutdownNotComplete: a transport that publishes
// through Dispatch (NATS) answers a handler cut by a forced Shutdown with
// "Server shutting down" (docs/SERVER.md, Graceful shutdown), as it does a
// Typed handler that returns ctx.Err(). A stream whose sequence stops when
// ctx is cancelled, as rpc.Stream asks, used to be completed instead
// ({"isDisposed":true}): the caller took a stream cut short for a whole one.
func TestStreamStoppedByForcedShutdownNotComplete(t *testing.T) {
	t.Parallel()
	s := rpc.NewServer(&rpc.Config{RetryAttempts: -1, Timeout: -1}, discardLogger())
	s.Handle("ticks", rpc.Stream(func(ctx context.Context, _ json.RawMessage) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			if !yield(1, nil) {
				return
			}
			<-ctx.Done() // as documented: the sequence stops when ctx is cancelled
		}
	}))
	w := newRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Dispatch(context.Background(), rpc.Message{Packet: []byte(`{"pattern":"ticks","data":null,"id":1}`)}, w)
	}()
	select {
	case <-w.got: // the first value is out
	case <-time.After(5 * time.Second):
		t.Fatal("no first value")
	}
	s.Close() // forced
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Dispatch did not return after Close")
	}
	got := w.all()
	if last := got[len(got)-1]; !strings.Contains(last, "Server shutting down") {
		t.Errorf("stream cut by a forced Shutdown ended with %q (all %q), want the Server shutting down error", last, got)
	}
}

// TestStreamCutByCloseCountedShuttingDown: over TCP, a request still
// running at a forced Shutdown is counted shutting_down once its handler
// returns (docs/SERVER.md), as a Typed handler that returns ctx.Err() is.
// A stream that stops at ctx's end, as documented, was counted as a
// request that succeeded.
func TestStreamCutByCloseCountedShuttingDown(t *testing.T) {
	t.Parallel()
	stopped := make(chan struct{})
	srv, _ := startServer(t, rpc.Config{Timeout: -1}, func(s *rpc.Server) {
		s.Handle("ticks", rpc.Stream(func(ctx context.Context, _ json.RawMessage) iter.Seq2[int, error] {
			return func(yield func(int, error) bool) {
				defer close(stopped)
				if !yield(1, nil) {
					return
				}
				<-ctx.Done()
			}
		}))
	})
	c := dial(t, srv)
	c.write(reqFrame(`"ticks"`, `null`, `1`))
	c.expectFrame(partReply(`1`, `1`))
	srv.Close()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not stop")
	}
	var m rpc.Metrics
	if !eventually(5*time.Second, func() bool { m = srv.GetMetrics(); return m.Requests == 1 }) {
		t.Fatalf("request not counted: %+v", m)
	}
	if m.ErrorByKind.ShuttingDown != 1 || m.Errors != 1 {
		t.Errorf("stream cut by Close: shutting_down %d, errors %d; want 1, 1", m.ErrorByKind.ShuttingDown, m.Errors)
	}
}
