//go:build linux

package otelrpc_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/msgpattern/msgpattern/internal/spantest"
	"github.com/msgpattern/msgpattern/otelrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestUnixSocketServerSpans: a server may serve any net.Listener
// (Server.Serve), a Unix socket included.
//   - Its server spans must not claim network.transport "tcp"
//     (OpenTelemetry's value for a Unix domain socket is "unix"), nor carry
//     an empty network.peer.address (the peer of a Unix socket is often
//     unnamed).
//   - The peer of a Unix socket names itself (the path or abstract name it
//     binds: any bytes), and network.peer.address was that name as given:
//     OTLP (protobuf) refuses a string that is not UTF-8 and the exporter
//     fails the whole batch, every other request's span with it — what
//     validText guards against for route keys and error text.
//
// (Linux: an abstract name needs no file.)
func TestUnixSocketServerSpans(t *testing.T) {
	for _, tc := range []struct {
		name  string
		laddr *net.UnixAddr // the caller's own address; nil: unnamed
		check func(t *testing.T, spans tracetest.SpanStubs)
	}{
		{"attributes", nil, func(t *testing.T, spans tracetest.SpanStubs) {
			got := attrs(spans[0])
			if v, ok := got["network.transport"]; ok && v.AsString() != "unix" {
				t.Errorf("network.transport = %q, want \"unix\" (or none)", v.AsString())
			}
			if v, ok := got["network.peer.address"]; ok && v.AsString() == "" {
				t.Errorf("network.peer.address is empty; want it absent")
			}
		}},
		{"peer name not UTF-8", &net.UnixAddr{Name: "@peer-\xff\xfe", Net: "unix"}, func(t *testing.T, spans tracetest.SpanStubs) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			exportOverOTLP(t, ctx, spans...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp, exp := spantest.NewProvider(t)
			srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger())
			srv.Use(otelrpc.Middleware(otelrpc.WithTracerProvider(tp)))
			srv.Handle("ping", rpc.HandlerFunc(func(_ context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
				return w.Send("pong")
			}))
			path := filepath.Join(t.TempDir(), "rpc.sock")
			ln, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				srv.Shutdown(ctx)
				<-served
			}()
			nc, err := net.DialUnix("unix", tc.laddr, &net.UnixAddr{Name: path, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			body := `{"pattern":"ping","data":null,"id":1}`
			if _, err := nc.Write([]byte("37#" + body)); err != nil {
				t.Fatal(err)
			}
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 256)
			if _, err := nc.Read(buf); err != nil {
				t.Fatal(err)
			}
			tc.check(t, spantest.Wait(t, exp, 1))
		})
	}
}
