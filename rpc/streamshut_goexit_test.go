package rpc_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// A stream handler that calls runtime.Goexit while a graceful Shutdown
// drains (it was handed off: it waited for the Shutdown): its values and
// then its panic answer reach the peer, the request read after it is
// still served (Shutdown serves what it has read), and the connection
// closes with every reply out.
func TestHandlerGoexitDuringGracefulShutdown(t *testing.T) {
	for _, tc := range []struct {
		name string
		hold time.Duration // how long the handler runs before Goexit: past a hand-off tick or not
	}{
		{"at once", 0},
		{"a while later", 200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entered := make(chan struct{})
			release := make(chan struct{})
			srv, stop := startServer(t, rpc.Config{}, func(s *rpc.Server) {
				s.Handle("goexit", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
					for i := range 3 {
						if err := w.Send(i); err != nil {
							return err
						}
					}
					close(entered)
					<-release
					time.Sleep(tc.hold)
					runtime.Goexit()
					return nil
				}))
				s.Handle("ping", constant("pong"))
			})
			defer stop()
			c := dial(t, srv)
			defer c.close()
			c.write(reqFrame(`"goexit"`, "null", `"g"`) + reqFrame(`"ping"`, "null", `"p"`))
			<-entered
			shut := make(chan error, 1)
			shutdownBegun(srv, shut)
			close(release)
			// The ping runs beside the held handler (handed off): its reply
			// may come first. g's frames keep their order.
			want := []string{
				partReply(`0`, `"g"`), partReply(`1`, `"g"`), partReply(`2`, `"g"`),
				errReply(internalError, `"g"`),
			}
			pong := false
			for len(want) > 0 {
				got := c.readFrame()
				switch {
				case got == valueReply(`"pong"`, `"p"`) && !pong:
					pong = true
				case got == want[0]:
					want = want[1:]
				default:
					t.Fatalf("got %q, want %q or the pong", got, want[0])
				}
			}
			if !pong {
				c.expectFrame(valueReply(`"pong"`, `"p"`))
			}
			c.expectClosed()
			c.close() // ends the server's lingering close
			if err := <-shut; err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		})
	}
}
