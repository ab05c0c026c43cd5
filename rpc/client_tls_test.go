package rpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientTLS: the client over TLS and mutual TLS, and a client without a
// certificate refused by a server that requires one.
func TestClientTLS(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	for _, tc := range []struct {
		name   string
		mutual bool
		cert   bool
		ok     bool
	}{
		{"tls", false, false, true},
		{"mutual tls", true, true, true},
		{"mutual tls without a client certificate", true, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startTLSServer(t, pki, tc.mutual, time.Minute)
			var cert = &pki.client
			if !tc.cert {
				cert = nil
			}
			c := newTestClient(t, srv.Addr().String(), rpc.WithTLS(pki.clientConfig(cert)),
				rpc.WithReconnectBackoff(time.Millisecond, 10*time.Millisecond))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var sum int
			err := c.Send(ctx, "sum", []int{20, 22}, &sum)
			if tc.ok && (err != nil || sum != 42) {
				t.Fatalf("Send over TLS = %d, %v; want 42", sum, err)
			}
			if !tc.ok && (err == nil || isRemoteErr(err)) {
				t.Fatalf("Send without a client certificate = %v; want a local error", err)
			}
		})
	}
}
