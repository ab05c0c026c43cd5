package rpc_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestStreamSendPastDeadlineDropped: once a stream handler's context has
// ended at its Timeout, a value it still sends must not reach the caller
// ahead of the timeout error (SERVER.md: the caller gets the timeout error
// at the deadline, "a result that comes later is dropped"). sendLast
// expires the reply then; Send queued the value, and the timeout reply
// followed it when the timer fired.
func TestStreamSendPastDeadlineDropped(t *testing.T) {
	errs := make(chan error, 1)
	s, _ := startServer(t, rpc.Config{Timeout: 100 * time.Millisecond}, func(s *rpc.Server) {
		s.Handle("v", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
			if err := w.Send(1); err != nil {
				errs <- err
				return err
			}
			for ctx.Err() == nil {
				runtime.Gosched()
			}
			err := w.Send(2)
			errs <- err
			return err
		}))
	})
	c := dial(t, s)
	c.write(reqFrame(`"v"`, `null`, `7`))
	c.expectFrame(partReply(`1`, `7`))
	c.expectFrame(errReply(`{"status":"error","message":"Request timed out after 100ms"}`, `7`))
	c.expectQuiet()
	if err := <-errs; !errors.Is(err, rpc.ErrReplyClosed) {
		t.Errorf("Send after the deadline returned %v, want ErrReplyClosed", err)
	}
}
