package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientForeignReplyWithOurIDIsDelivered: a reply frame that
// carries the call's id plus a member outside the NestJS envelope is
// delivered by every NestJS ClientProxy (measured with interop/nestjs
// v10.4.22, v11.2.6, v12.1.1: `{"response":1,"isDisposed":true,"id":ID,"x":1}`
// gives 1 on v10/v11 and the whole object on v12; `{"id":ID,"x":1}` gives
// the whole object on all three — see IncomingResponseDeserializer.mapToSchema,
// which keeps `id: value.id`, and ClientTCP.handleResponse, which routes by
// it). Ours follows NestJS 10 and 11, as natsrpc's client does: members
// beside the reply members are ignored; an object with none of them is
// the call's whole value.
func TestClientForeignReplyWithOurIDIsDelivered(t *testing.T) {
	for _, tt := range []struct{ reply, want string }{
		{`{"response":1,"isDisposed":true,"id":ID,"x":1}`, `1`},
		{`{"id":ID,"x":1}`, `{"id":1,"x":1}`},
	} {
		reply := tt.reply
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
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("call never completed (reply %s dropped); NestJS delivers it", reply)
			}
			if err != nil || string(out) != tt.want {
				t.Fatalf("got %s, %v; want %s", out, err, tt.want)
			}
		})
	}
}
