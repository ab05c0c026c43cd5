package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestHandlerContextTimeout: past Config.Timeout the handler's context is
// done with DeadlineExceeded and the caller gets a timeout error.
func TestHandlerContextTimeout(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, rpc.Config{Timeout: 100 * time.Millisecond}, func(s *rpc.Server) {
		s.Handle("wait", rpc.ContextFunc(func(ctx context.Context, _ json.RawMessage) (any, error) {
			dl, ok := ctx.Deadline()
			if !ok || time.Until(dl) > 100*time.Millisecond {
				return nil, rpc.Errorf("deadline %v, %v: want one within 100ms", dl, ok)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(10 * time.Second):
				return "not cancelled", nil
			}
		}))
	})
	c := dial(t, srv)
	c.call(`"wait"`, "null", "1", errReply(`{"status":"error","message":"Request timed out after 100ms"}`, "1"))
	if got := srv.GetMetrics().ErrorByKind.Timeout; got != 1 {
		t.Errorf("errors_by_kind.timeout = %d, want 1", got)
	}
}

// TestHandlerContextErrWithoutDone: a handler that polls ctx.Err instead of
// waiting on Done still sees the deadline pass; its late result is dropped
// for the timeout error.
func TestHandlerContextErrWithoutDone(t *testing.T) {
	t.Parallel()
	saw := make(chan error, 1)
	srv, _ := startServer(t, rpc.Config{Timeout: 50 * time.Millisecond}, func(s *rpc.Server) {
		s.Handle("poll", rpc.ContextFunc(func(ctx context.Context, _ json.RawMessage) (any, error) {
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if err := ctx.Err(); err != nil {
					saw <- err
					return "late result", nil
				}
			}
			saw <- nil
			return "never saw the deadline", nil
		}))
	})
	dial(t, srv).call(`"poll"`, "null", "1", errReply(`{"status":"error","message":"Request timed out after 50ms"}`, "1"))
	if err := <-saw; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ctx.Err() = %v, want DeadlineExceeded", err)
	}
	waitMetric(t, srv, "late_results_dropped", 1, func(m rpc.Metrics) uint64 { return m.ErrorByKind.LateResultsDropped })
}

// TestRequestFromContext: pattern, route, metadata and remote address reach
// the handler.
func TestRequestFromContext(t *testing.T) {
	t.Parallel()
	type seen struct {
		Pattern, Route, Remote string
		Meta                   map[string]string
		Event                  bool
	}
	got := make(chan seen, 1)
	srv, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle(map[string]string{"cmd": "info", "role": "x"}, rpc.ContextFunc(func(ctx context.Context, _ json.RawMessage) (any, error) {
			r, ok := rpc.RequestFromContext(ctx)
			if !ok {
				return nil, rpc.NewError("no request in context")
			}
			got <- seen{string(r.Pattern), r.Route, r.RemoteAddr().String(), r.Metadata(), r.IsEvent()}
			return nil, nil
		}))
	})
	c := dial(t, srv)
	c.write(frame(`{"pattern":{"role":"x","cmd":"info"},"data":1,"metadata":{"traceparent":"00-abc-def-01","n":5},"id":"m"}`))
	c.expectFrame(valueReply("null", `"m"`))
	s := <-got
	want := seen{
		Pattern: `{"role":"x","cmd":"info"}`,
		Route:   `{"cmd":"info","role":"x"}`,
		Remote:  c.nc.LocalAddr().String(),
		Meta:    map[string]string{"traceparent": "00-abc-def-01"},
	}
	if s.Pattern != want.Pattern || s.Route != want.Route || s.Remote != want.Remote || s.Event ||
		len(s.Meta) != 1 || s.Meta["traceparent"] != want.Meta["traceparent"] {
		t.Errorf("request seen by the handler:\n got  %+v\n want %+v", s, want)
	}
}

// TestShutdownDeadlineCancelsHandlers: when Shutdown's context ends first,
// handler contexts are cancelled, connections closed, and Shutdown returns
// the context's error.
func TestShutdownDeadlineCancelsHandlers(t *testing.T) {
	t.Parallel()
	cancelled := make(chan error, 1)
	started := make(chan struct{})
	srv, stop := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("stuck", rpc.ContextFunc(func(ctx context.Context, _ json.RawMessage) (any, error) {
			close(started)
			<-ctx.Done()
			cancelled <- ctx.Err()
			return nil, ctx.Err()
		}))
	})
	c := dial(t, srv)
	c.write(reqFrame(`"stuck"`, "null", "1"))
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want context.DeadlineExceeded", err)
	}
	select {
	case err := <-cancelled:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("handler context error %v, want Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's context was not cancelled by the forced shutdown")
	}
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var buf [512]byte
	for {
		if _, err := c.nc.Read(buf[:]); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the connection was not closed by the forced shutdown")
			}
			break
		}
	}
	stop()
}
