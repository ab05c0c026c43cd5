package rpc_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// failingWriter is a transport's ReplyWriter whose caller is gone after
// the first packet (a NATS connection closed, a reply over max_payload).
type failingWriter struct{ n atomic.Int32 }

func (w *failingWriter) WriteReply(packet []byte, last bool) error {
	if w.n.Add(1) > 1 {
		return errors.New("caller cannot be reached")
	}
	return nil
}

// TestDispatchSendAfterWriteFailure: over Dispatch (natsrpc), Send returns
// ErrCallerGone once a WriteReply failed, as over TCP; it used to return
// nil for ever (20,000 Sends, 2 WriteReply calls), so a stream handler that
// ignores its context ran on for nothing.
func TestDispatchSendAfterWriteFailure(t *testing.T) {
	t.Parallel()
	s := rpc.NewServer(&rpc.Config{RetryAttempts: -1, Timeout: -1}, discardLogger())
	defer s.Close()
	const maxSends = 20000
	result := make(chan error, 1)
	var sends atomic.Int64
	s.Handle("forever", rpc.HandlerFunc(func(_ context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
		for i := 0; i < maxSends; i++ {
			sends.Add(1)
			if err := w.Send(i); err != nil {
				result <- err
				return err
			}
			if i%100 == 0 {
				time.Sleep(time.Millisecond) // let held-back values go out
			}
		}
		result <- nil
		return nil
	}))
	w := &failingWriter{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Dispatch(context.Background(), rpc.Message{Packet: []byte(`{"pattern":"forever","data":null,"id":1}`)}, w)
	}()
	select {
	case err := <-result:
		if !errors.Is(err, rpc.ErrCallerGone) {
			t.Errorf("after WriteReply failed, Send returned %v after %d sends (%d WriteReply calls); want ErrCallerGone", err, sends.Load(), w.n.Load())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("handler still sending after 30 s")
	}
	<-done
}
