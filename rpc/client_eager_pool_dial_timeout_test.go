package rpc_test

import (
	"net"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestEagerPoolDialTimeoutIsPerDial: WithDialTimeout "bounds each dial of
// the client". With WithEagerConnect and a pool, NewClient dialled every
// connection under one context of that timeout, so a pool whose dials each
// take well within the bound (here a TLS handshake delayed by a proxy)
// failed with context deadline exceeded once their sum passed it.
func TestEagerPoolDialTimeoutIsPerDial(t *testing.T) {
	t.Parallel()
	const (
		delay   = time.Second             // each handshake's answer comes this late
		timeout = 2500 * time.Millisecond // each dial's bound: well over delay
	)
	pki := newTestPKI(t)
	srv := startTLSServer(t, pki, false, time.Minute)
	px := startProxy(t, srv.Addr().String(), func(dst, src net.Conn, upstream bool) {
		if !upstream {
			time.Sleep(delay)
		}
		copyThenClose(dst, src, upstream)
	})
	c, err := rpc.NewClient(px.addr, rpc.WithClientLogger(discardLogger()), rpc.WithTLS(pki.clientConfig(nil)),
		rpc.WithPool(3, false), rpc.WithEagerConnect(), rpc.WithDialTimeout(timeout))
	if err != nil {
		t.Fatalf("NewClient with a pool of 3, each dial taking about %v under WithDialTimeout(%v): %v", delay, timeout, err)
	}
	c.Close()
}
