package interop_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestNATSClientTakesExternalReplies: a reply that is not a NestJS reply
// packet — JSON with none of "err", "response", "isDisposed", as a plain
// NATS responder (nats.go's msg.Respond, `nats reply`) sends — is, for
// NestJS's ClientNats (IncomingResponseDeserializer.isExternal/mapToSchema,
// majors 10, 11 and 12), the whole response, and it completes the call.
// A responder on "sum" answers the bare number 6: a real NestJS ClientProxy
// (nats-client.mjs, scenario string-pattern: send('sum', [1,2,3]) must give
// 6) gets 6 at once; natsrpc.Client must too, rather than drop the reply
// and wait out its deadline.
func TestNATSClientTakesExternalReplies(t *testing.T) {
	node := requireNode(t)
	ns := natstest.Run(t, nil)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, err = nc.Subscribe("sum", func(m *nats.Msg) {
		var req struct{ Data []float64 }
		_ = json.Unmarshal(m.Data, &req)
		total := 0.0
		for _, x := range req.Data {
			total += x
		}
		m.Respond([]byte(strconv.FormatFloat(total, 'f', -1, 64)))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	for _, v := range natsMajors {
		t.Run("nest"+v, func(t *testing.T) {
			results := runScenarioScript(t, node, v, time.Minute, "nats-client.mjs", "--nest", v,
				"--url", ns.ClientURL(), "--only", "string-pattern")
			if len(results) != 1 || !results[0].OK {
				t.Fatalf("NestJS ClientProxy against a plain responder: %+v", results)
			}
		})
	}
	t.Run("go", func(t *testing.T) {
		c := natstest.Dial(t, ns.ClientURL())
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		got, err := rpc.Call[[]int, int](ctx, c, "sum", []int{1, 2, 3})
		if err != nil || got != 6 {
			t.Fatalf("natsrpc.Client against a plain responder: sum [1,2,3] = %d, %v; want 6", got, err)
		}
	})
}
