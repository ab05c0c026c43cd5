package rpc_test

import (
	"context"
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// A handler that calls runtime.Goexit (t.FailNow in a test helper, say)
// ends its goroutine without returning or panicking. It must be answered
// as a panic is and give back its place: the connection's other requests
// and a graceful Shutdown go on.
func TestHandlerGoexitIsAnsweredAndReleased(t *testing.T) {
	srv, stop := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		rpc.NewServerWrapper(s).MessagePattern("goexit", func(json.RawMessage) (interface{}, error) {
			runtime.Goexit()
			return nil, nil
		})
		s.Handle("ping", constant("pong"))
	})
	c := dial(t, srv)
	for _, id := range []string{"1", "2"} {
		c.write(reqFrame(`"goexit"`, "null", id))
		got, err := c.readFrameErr(ioTimeout)
		if want := errReply(internalError, id); got != want {
			t.Errorf("goexit reply: got %q (%v), want %q", got, err, want)
		}
		c.call(`"ping"`, "null", "3", valueReply(`"pong"`, "3"))
	}
	c.close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v (in flight: %d)", err, srv.GetMetrics().InFlight)
	}
	stop()
}

// The same through Dispatch (the NATS transport's path): the goroutine
// that called Dispatch ends with the handler, but the reply is written and
// the request counted out.
func TestDispatchHandlerGoexitIsAnsweredAndReleased(t *testing.T) {
	t.Parallel()
	s := rpc.NewServer(&rpc.Config{}, discardLogger())
	rpc.NewServerWrapper(s).MessagePattern("goexit", func(json.RawMessage) (interface{}, error) {
		runtime.Goexit()
		return nil, nil
	})
	w := newRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Dispatch(context.Background(), rpc.Message{Packet: []byte(`{"pattern":"goexit","data":null,"id":1}`)}, w)
	}()
	<-done
	want := `{"err":{"status":"error","message":"Internal server error"},"isDisposed":true,"id":1}`
	if got := w.all(); len(got) != 1 || got[0] != want {
		t.Errorf("replies: %q, want [%q]", got, want)
	}
	if n := s.GetMetrics().InFlight; n != 0 {
		t.Errorf("in flight after the handler exited: %d", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}
