//go:build !(aix || plan9 || (freebsd && !cgo && !amd64 && !arm64))

package natsrpc

import (
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// runNATS starts an embedded NATS server on a loopback port for a test of
// this package's internals (internal/natstest imports natsrpc, so these
// tests cannot use it), shut down when the test ends.
func runNATS(t *testing.T) *natsserver.Server {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	return ns
}
