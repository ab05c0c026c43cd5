package otelrpc_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/msgpattern/msgpattern/internal/spantest"
	"github.com/msgpattern/msgpattern/otelrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientSpanOfDialTimeoutIsUnavailable: a call whose dial times out
// (rpc.WithDialTimeout: here a TLS server that never answers the
// handshake) was never delivered: rpc returns an error matching
// rpc.ErrUnavailable while the call's own context is alive. The package
// docs give it error.type "unavailable" ("rpc.ErrUnavailable: not
// delivered"); net's dial timeout error also matches
// context.DeadlineExceeded, which the client classification tested first:
// the span said "timeout", as if the call's deadline had passed.
func TestClientSpanOfDialTimeoutIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 4)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				close(held)
				return
			}
			held <- nc // accepted, never answered
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for nc := range held {
			nc.Close()
		}
	})

	tp, exp := spantest.NewProvider(t)
	client, err := rpc.NewClient(ln.Addr().String(), rpc.WithTLS(&tls.Config{InsecureSkipVerify: true}),
		rpc.WithDialTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c := otelrpc.WrapCaller(client, otelrpc.WithTracerProvider(tp))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = c.Send(ctx, "ok", nil, nil)
	if err == nil || !errors.Is(err, rpc.ErrUnavailable) || ctx.Err() != nil {
		t.Fatalf("precondition: Send: %v (ctx %v); want an ErrUnavailable dial error with the call's context alive", err, ctx.Err())
	}
	s := find(t, spantest.Wait(t, exp, 1), "ok", trace.SpanKindClient)
	checkAttrs(t, s, map[string]string{"error.type": "unavailable"})
}
