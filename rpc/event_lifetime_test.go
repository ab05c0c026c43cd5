package rpc_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestEventSurvivesEmitterClose: an event's handler runs on when its sender
// closes at once (client.emit, then close), as NestJS's do and as over
// NATS: it used to be cancelled with the connection, the event lost.
func TestEventSurvivesEmitterClose(t *testing.T) {
	t.Parallel()
	result := make(chan error, 1)
	srv, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		registerProbe(s)
		s.HandleEvent("order.created", rpc.Event(func(ctx context.Context, in map[string]any) error {
			// Context-aware work taking 300 ms.
			select {
			case <-ctx.Done():
				result <- ctx.Err()
				return ctx.Err()
			case <-time.After(300 * time.Millisecond):
				result <- nil
				return nil
			}
		}))
	})
	c := dial(t, srv)
	c.write(frame(`{"pattern":"order.created","data":{"id":7}}`))
	c.close()
	select {
	case err := <-result:
		if err != nil {
			t.Errorf("event handler's context ended (%v) because the emitter closed its connection after emitting; metrics: canceled=%d", err, srv.GetMetrics().ErrorByKind.Canceled)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("event handler never finished")
	}
}

// TestEventStreamHandlerStops: a stream handler reached by an event (any
// peer may leave out the id) is told to stop by Send once its context ends
// or it returned; Send used to return nil for ever, the handler running on
// past its Timeout and Shutdown.
func TestEventStreamHandlerStops(t *testing.T) {
	t.Parallel()
	ended := make(chan error, 1)
	var stop atomic.Bool
	srv, _ := startServer(t, rpc.Config{Timeout: time.Second}, func(s *rpc.Server) {
		registerProbe(s)
		s.Handle("forever", rpc.HandlerFunc(func(_ context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
			for i := 0; ; i++ {
				if err := w.Send(i); err != nil {
					ended <- err
					return err
				}
				if stop.Load() {
					ended <- nil
					return nil
				}
				time.Sleep(100 * time.Microsecond)
			}
		}))
	})
	defer stop.Store(true)
	c := dial(t, srv)
	c.write(frame(`{"pattern":"forever","data":null}`)) // no id: an event
	waitMetric(t, srv, "in_flight", int64(1), func(m rpc.Metrics) int64 { return m.InFlight })
	c.close()
	select {
	case err := <-ended:
		if err == nil {
			t.Error("handler stopped only because the test told it to")
		}
	case <-time.After(5 * time.Second):
		stop.Store(true)
		err := <-ended
		t.Errorf("the handler of an event still runs 5 s after its peer closed (and 4 s past Timeout): Send kept returning nil (then %v)", err)
	}
}
