//go:build !(aix || plan9 || (freebsd && !cgo && !amd64 && !arm64))

// Package natstest is for tests that need NATS: it runs an embedded NATS
// server on a loopback port and serves an rpc.Server over it, each undone
// when the test ends. natsrpc's, otelrpc's and interop's tests use it.
//
// nats-server does not build on aix, plan9, nor on freebsd without cgo
// except amd64 and arm64: there the package is empty (so that `go build
// ./...` works), and the tests that need NATS do not build.
package natstest

import (
	"context"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// Run starts an embedded NATS server on a free loopback port; adjust, when
// not nil, may change its options (a cluster, max_payload, a fixed port).
// The server is shut down when the test ends.
func Run(t testing.TB, adjust func(*natsserver.Options)) *natsserver.Server {
	t.Helper()
	opts := &natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true}
	if adjust != nil {
		adjust(opts)
	}
	ns, err := natsserver.NewServer(opts)
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		t.Fatal("nats server not ready within 10 s")
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns
}

// Serve serves srv over the NATS server at url (natsrpc.Connect with
// opts). When the test ends, srv is shut down (given 5 s) and then the
// NATS side closed; an error from srv.Shutdown fails the test.
func Serve(t testing.TB, srv *rpc.Server, url string, opts ...natsrpc.Option) *natsrpc.Server {
	t.Helper()
	nsrv, err := natsrpc.Connect(srv, url, opts...)
	if err != nil {
		t.Fatalf("natsrpc.Connect: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		nsrv.Close()
	})
	return nsrv
}

// Dial is a natsrpc.Client of the NATS server at url, closed when the test
// ends.
func Dial(t testing.TB, url string, opts ...natsrpc.ClientOption) *natsrpc.Client {
	t.Helper()
	c, err := natsrpc.Dial(url, opts...)
	if err != nil {
		t.Fatalf("natsrpc.Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
