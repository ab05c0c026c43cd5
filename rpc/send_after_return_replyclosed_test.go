package rpc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestSendAfterReturnIsReplyClosed: ResponseWriter's godoc says a writer
// is usable "only until ServeMessage returns", and ErrReplyClosed's says it
// "is returned by ResponseWriter.Send when the reply is already complete".
// Once a stream handler returned its reply is complete (its end frame is
// written), yet a goroutine it left running got an unexported error that
// neither errors.Is(err, rpc.ErrReplyClosed) nor ErrCallerGone matches, so
// such a goroutine could not tell "stop, the reply is over" from a failure
// of its own (an encoding error, say).
func TestSendAfterReturnIsReplyClosed(t *testing.T) {
	late := make(chan error, 1)
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("leaky", rpc.HandlerFunc(func(_ context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
			go func() {
				time.Sleep(20 * time.Millisecond)
				late <- w.Send(2)
			}()
			return w.Send(1)
		}))
	})
	c := dial(t, s)
	c.call(`"leaky"`, `null`, `1`, valueReply("1", "1"))
	err := <-late
	if !errors.Is(err, rpc.ErrReplyClosed) {
		t.Errorf("Send after the handler returned: %v; want an error matching rpc.ErrReplyClosed", err)
	}
	c.expectQuiet()
}
