package rpc_test

import (
	"context"
	"errors"
	"testing"
)

// TestClientReadsRepliesAsNestJS: replies a NestJS server would not send
// but a NestJS client takes, measured with interop/nestjs v10.4.22,
// v11.2.6 and v12.1.1 (a raw server answering the ClientProxy).
//
// A frame carrying the call's id plus a member outside the NestJS
// envelope: `{"response":1,"isDisposed":true,"id":ID,"x":1}` gives 1 on
// v10/v11 (the whole object on v12); `{"id":ID,"x":1}` the whole object on
// all three (IncomingResponseDeserializer.mapToSchema keeps `id: value.id`,
// and ClientTCP.handleResponse routes by it). Ours follows v10 and v11, as
// natsrpc's client does.
//
// `err` and `isDisposed` by JavaScript truthiness: ClientTCP.handleResponse
// tests `if (isDisposed || err)` and ClientProxy.createObserver `if (err)`,
// so `"isDisposed":1` completes the call and `"err":-0` is no error.
func TestClientReadsRepliesAsNestJS(t *testing.T) {
	for _, tt := range []struct{ reply, want string }{
		{`{"response":1,"isDisposed":true,"id":ID,"x":1}`, `1`},
		{`{"id":ID,"x":1}`, `{"id":1,"x":1}`},
		{`{"response":1,"isDisposed":1,"id":ID}`, `1`},
		{`{"err":-0,"response":1,"isDisposed":true,"id":ID}`, `1`},
		{`{"err":0.0,"response":1,"isDisposed":true,"id":ID}`, `1`},
	} {
		t.Run(tt.reply, func(t *testing.T) {
			out, err := sendToFakeReplier(t, tt.reply)
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("call never completed (reply %s dropped); NestJS delivers it", tt.reply)
			}
			if err != nil || string(out) != tt.want {
				t.Fatalf("got %s, %v; want %s", out, err, tt.want)
			}
		})
	}
}
