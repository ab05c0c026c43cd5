package rpc_test

import (
	"context"
	"net"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestStreamToHalfClosedPeerStillSendsValues: a peer that half-closes
// (printf … | nc -N) still reads, so a stream's Send keeps sending after
// the handler's context ended: a FIN does not tell a full close from a
// half-close, which is why Send returns ErrCallerGone only once a write
// fails (ResponseWriter.Send's doc). Refusing Sends once ctx ended would
// answer this peer "Request cancelled" instead of its values.
func TestStreamToHalfClosedPeerStillSendsValues(t *testing.T) {
	s, _ := startServer(t, rpc.Config{Timeout: -1}, func(s *rpc.Server) {
		s.Handle("s", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
			<-ctx.Done()
			for i := 0; i < 3; i++ {
				if err := w.Send(i); err != nil {
					return err
				}
			}
			return nil
		}))
	})
	c := dial(t, s)
	c.write(reqFrame(`"s"`, `null`, `1`))
	c.nc.(*net.TCPConn).CloseWrite()
	c.expectFrame(partReply(`0`, `1`))
	c.expectFrame(partReply(`1`, `1`))
	if f := c.readFrame(); f != valueReply(`2`, `1`) {
		if f != partReply(`2`, `1`) {
			t.Fatalf("third frame %q", f)
		}
		c.expectFrame(frame(`{"isDisposed":true,"id":1}`))
	}
}
