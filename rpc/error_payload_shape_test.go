package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestErrorPayloadNotAnObject: an *rpc.Error whose payload is not an object
// or array is sent as NestJS's exception filter sends RpcException(value):
// {"status":"error","message":value}. Sent bare, a falsy payload (null,
// false, 0, "", or NewErrorObject(nil)) read as no error at all to NestJS
// clients and to ours: the call succeeded with no value.
func TestErrorPayloadNotAnObject(t *testing.T) {
	tests := []struct{ name, payload, want string }{
		{"null", `null`, `{"status":"error","message":null}`},
		{"false", `false`, `{"status":"error","message":false}`},
		{"zero", `0`, `{"status":"error","message":0}`},
		{"empty string", `""`, `{"status":"error","message":""}`},
		{"string", ` "bad" `, `{"status":"error","message":"bad"}`},
		{"number", `400`, `{"status":"error","message":400}`},
		{"object", `{ "status": 400 }`, `{"status":400}`},
		{"array", `[1, 2]`, `[1,2]`},
	}
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		for _, tt := range tests {
			s.Handle("fail "+tt.name, rpc.Func(func(json.RawMessage) (any, error) {
				return nil, &rpc.Error{Payload: json.RawMessage(tt.payload)}
			}))
		}
		s.Handle("fail object of nil", rpc.Func(func(json.RawMessage) (any, error) {
			e, err := rpc.NewErrorObject(nil)
			if err != nil {
				return nil, err
			}
			return nil, e
		}))
	})
	c := dial(t, s)
	for i, tt := range tests {
		id := fmt.Sprint(i + 1)
		c.call(`"fail `+tt.name+`"`, `null`, id, errReply(tt.want, id))
	}

	cl, err := rpc.NewClient(s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, p := range []string{"null", "false", "zero", "empty string", "object of nil"} {
		var out any
		err := cl.Send(ctx, "fail "+p, nil, &out)
		if _, ok := errors.AsType[*rpc.Error](err); !ok {
			t.Errorf("%s: Send returned %v (out %v), want an *rpc.Error", p, err, out)
		}
	}
}
