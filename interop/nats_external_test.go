package interop_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/demo"
	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestNATSExternalMessagesReachHandlers: a message published to a
// pattern's subject by a plain NATS client (another service, `nats pub
// evt '{"orderId":7}'`) whose body is not a NestJS packet — JSON with
// neither a "pattern" nor a "data" key, or not an object at all — is, for
// NestJS's ServerNats (IncomingRequestDeserializer.isExternal/mapToSchema,
// majors 10, 11 and 12), an event whose data is the whole body: the
// handler of the subject gets {"orderId":7}, [1,2], and
// {"id":"o-1","total":3} as they were published (the "id" of a body
// without pattern/data is not a request id). The real NestJS NATS
// microservice (nats-server.mjs, demo contract: "evt" records the data,
// "events" returns it) is measured first; our server must record the same.
func TestNATSExternalMessagesReachHandlers(t *testing.T) {
	node := requireNode(t)
	bodies := []string{`{"orderId":7}`, `[1,2]`, `{"id":"o-1","total":3}`}
	want := canonicalJSON(t, bodies)

	check := func(t *testing.T, url string) {
		pub, err := nats.Connect(url)
		if err != nil {
			t.Fatal(err)
		}
		defer pub.Close()
		for _, b := range bodies {
			if err := pub.Publish("evt", []byte(b)); err != nil {
				t.Fatal(err)
			}
		}
		if err := pub.Flush(); err != nil {
			t.Fatal(err)
		}
		c := natstest.Dial(t, url)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		got, err := pollEvents[json.RawMessage](ctx, c, "events", len(bodies))
		if err != nil {
			t.Fatal(err)
		}
		raw := make([]string, len(got))
		for i, g := range got {
			raw[i] = string(g)
		}
		if g := canonicalJSON(t, raw); !reflect.DeepEqual(g, want) {
			t.Errorf("data the \"evt\" handler got from plain NATS publishes:\n got %q\nwant %q", g, want)
		}
	}

	for _, v := range natsMajors {
		t.Run("nest"+v, func(t *testing.T) {
			ns := natstest.Run(t, nil)
			startNestProc(t, node, v, "nats-server.mjs", "--url", ns.ClientURL())
			check(t, ns.ClientURL())
		})
	}
	t.Run("go", func(t *testing.T) {
		ns := natstest.Run(t, nil)
		srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1}, discard())
		demo.Register(srv)
		natstest.Serve(t, srv, ns.ClientURL())
		check(t, ns.ClientURL())
	})
}

// canonicalJSON re-encodes each JSON text (key order, spacing) and sorts
// them: events on one subject may be handled in any order.
func canonicalJSON(t *testing.T, texts []string) []string {
	t.Helper()
	out := make([]string, len(texts))
	for i, s := range texts {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		b, _ := json.Marshal(v)
		out[i] = string(b)
	}
	slices.Sort(out)
	return out
}
