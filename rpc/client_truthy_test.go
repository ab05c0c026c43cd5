package rpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientReplyTruthinessAsNestJS: NestJS's ClientTCP.handleResponse
// tests `if (isDisposed || err)` and ClientProxy.createObserver `if (err)`:
// JavaScript truthiness. Measured on NestJS 10.4.22, 11.2.6 and 12.1.1 (a raw
// server answering the ClientProxy): `"isDisposed":1` completes the call
// with 1, and `"err":-0` (falsy) is no error: the value 1 is delivered.
func TestClientReplyTruthinessAsNestJS(t *testing.T) {
	for _, reply := range []string{
		`{"response":1,"isDisposed":1,"id":ID}`,
		`{"err":-0,"response":1,"isDisposed":true,"id":ID}`,
		`{"err":0.0,"response":1,"isDisposed":true,"id":ID}`,
	} {
		t.Run(reply, func(t *testing.T) {
			c, err := rpc.NewClient(fakeReplier(t, reply))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var out json.RawMessage
			err = c.Send(ctx, "x", 1, &out)
			if err != nil || string(out) != "1" {
				t.Fatalf("got %s, %v; NestJS gets 1", out, err)
			}
		})
	}
}

// TestParseReplyPacketTruthiness: natsrpc reads replies through
// ParseReplyPacket, and must judge them as the TCP client does.
func TestParseReplyPacketTruthiness(t *testing.T) {
	for _, tc := range []struct {
		packet    string
		err, last bool
		value     string
	}{
		{`{"response":1,"isDisposed":1,"id":1}`, false, true, `1`},
		{`{"response":1,"isDisposed":0,"id":1}`, false, false, `1`},
		{`{"err":-0,"response":1,"isDisposed":true,"id":1}`, false, true, `1`},
		{`{"err":0e5,"response":1,"id":1}`, false, false, `1`},
		{`{"err":"boom","id":1}`, true, true, ``},
	} {
		p, ok := rpc.ParseReplyPacket([]byte(tc.packet))
		if !ok || (p.Err != nil) != tc.err || p.Last != tc.last || string(p.Value) != tc.value {
			t.Errorf("%s: got ok %t, err %v, last %t, value %s; want err %t, last %t, value %s",
				tc.packet, ok, p.Err, p.Last, p.Value, tc.err, tc.last, tc.value)
		}
	}
}
