package interop_test

// OpenTelemetry tracing (package otelrpc) across NestJS and msgpattern:
//
//   - a NestJS 12 ClientProxy (nestjs/trace-client.mjs; over NATS,
//     nestjs/nats-client.mjs) sends a traceparent in its packets' metadata:
//     our server's spans are its children, and the calls our handler makes
//     onward — to our servers over TCP and NATS, and to a NestJS 12 TCP
//     server — continue the trace;
//   - our traced client (otelrpc.WrapCaller) calls NestJS TCP servers of
//     majors 10, 11 and 12 (nestjs/server.mjs, "meta", "meta-evt" and
//     "meta-events" echo TcpContext.getMetadata()) and NATS servers of
//     majors 11 and 12: NestJS 12 sees our traceparent, NestJS 10 and 11
//     ignore it and keep working.
//
// Spans go to the SDK's in-memory exporter.

import (
	"context"
	"encoding/json"
	"iter"
	"reflect"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/msgpattern/msgpattern/internal/demo"
	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/internal/spantest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/otelrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// The trace context trace-client.mjs is given (nats-client.mjs sends
// traceparent, the same).
const (
	nestTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	nestSpanID  = "00f067aa0ba902b7"
	nestState   = "nest=1"
)

func spanAttr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// named matches spans by name, kind, trace and msgpattern.transport ("" for
// none).
func named(name string, kind trace.SpanKind, traceID trace.TraceID, transport string) func(tracetest.SpanStub) bool {
	return func(s tracetest.SpanStub) bool {
		return s.Name == name && s.SpanKind == kind && s.SpanContext.TraceID() == traceID && spanAttr(s, "msgpattern.transport") == transport
	}
}

// isChild requires child to be the child of parent, same trace, and to have
// ended without error.
func isChild(t *testing.T, child tracetest.SpanStub, parent trace.SpanContext) {
	t.Helper()
	spantest.ChildOf(t, child, parent)
	if child.Status.Code != 0 || spanAttr(child, "msgpattern.outcome") != "ok" {
		t.Errorf("span %s (%v): status %v %q, outcome %q", child.Name, child.SpanKind, child.Status.Code, child.Status.Description, spanAttr(child, "msgpattern.outcome"))
	}
}

func traceparentOf(sc trace.SpanContext) string {
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
}

func nestParent() trace.SpanContext {
	tid, _ := trace.TraceIDFromHex(nestTraceID)
	sid, _ := trace.SpanIDFromHex(nestSpanID)
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
}

// TestTraceNestClientThroughGo: a NestJS 12 client → our server A → our
// clients → our server B over TCP, our server B over NATS, and a NestJS 12
// TCP server. One trace, the NestJS client's: A's span is the child of the
// span id it sent, each of A's client spans a child of A's span, each
// server span below a child of its client span, and the NestJS server
// receives the traceparent of our client span (with the trace state the
// NestJS client sent). A stream and an event from the NestJS client are
// children of its span too; a call without metadata starts a new trace.
func TestTraceNestClientThroughGo(t *testing.T) {
	node := requireNode(t)
	tp, exp := spantest.NewProvider(t)
	traced := otelrpc.WithTracerProvider(tp)

	// Downstream: our server B, over TCP and NATS, and a NestJS 12 server.
	b := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1}, discard())
	b.Use(otelrpc.Middleware(traced))
	b.Handle("leaf", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
		return w.Send("leaf over " + r.Transport())
	}))
	startServer(t, b)
	ns := natstest.Run(t, nil)
	bNATS, err := natsrpc.Connect(b, ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bNATS.Close() })
	nest := startNestServer(t, node, "12", "0")

	toB := otelrpc.WrapCaller(newNestClient(t, b.Addr().String()), traced)
	natsClient := natstest.Dial(t, ns.ClientURL())
	toBNATS := otelrpc.WrapCaller(natsClient, traced)
	toNest := otelrpc.WrapCaller(newNestClient(t, nest.addr()), traced)

	// Our server A, called by the NestJS client.
	a := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1}, discard())
	a.Use(otelrpc.Middleware(traced))
	a.Handle("relay", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
		var out struct {
			TCP  string          `json:"tcp"`
			NATS string          `json:"nats"`
			Nest json.RawMessage `json:"nest"`
		}
		if err := toB.Send(ctx, "leaf", nil, &out.TCP); err != nil {
			return err
		}
		if err := toBNATS.Send(ctx, "leaf", nil, &out.NATS); err != nil {
			return err
		}
		if err := toNest.Send(ctx, "meta", map[string]any{}, &out.Nest); err != nil {
			return err
		}
		return w.Send(out)
	}))
	a.Handle("ticks", rpc.Stream(func(_ context.Context, _ json.RawMessage) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			for i := 1; i <= 3 && yield(i, nil); i++ {
			}
		}
	}))
	evt := make(chan struct{}, 1)
	a.HandleEvent("traced-evt", rpc.Func(func(json.RawMessage) (any, error) {
		evt <- struct{}{}
		return nil, nil
	}))
	port := startServer(t, a)

	results := runScenarioScript(t, node, "12", 2*time.Minute, "trace-client.mjs", "--nest", "12", "--port", port,
		"--traceparent", traceparent, "--tracestate", nestState)
	byName := map[string]scenarioResult{}
	for _, r := range results {
		byName[r.Scenario] = r
		if !r.OK {
			t.Errorf("trace-client.mjs %s failed: %s", r.Scenario, r.Error)
		}
	}
	if len(results) != 4 {
		t.Fatalf("trace-client.mjs reported %d calls, want 4: %v", len(results), results)
	}
	if string(byName["stream"].Result) != "[1,2,3]" {
		t.Errorf("stream: %s, want [1,2,3]", byName["stream"].Result)
	}
	select {
	case <-evt:
	case <-time.After(10 * time.Second):
		t.Fatal("the event did not arrive")
	}

	// Per relay: A's server span, three client spans, B's two server spans:
	// 6; two relays, a stream and an event: 14.
	spans := spantest.Wait(t, exp, 14)
	nestSC := nestParent()
	tid := nestSC.TraceID()

	relay := spantest.One(t, spans, "relay (server) in the NestJS trace", named("relay", trace.SpanKindServer, tid, "tcp"))
	isChild(t, relay, nestSC)
	if !relay.Parent.IsRemote() {
		t.Error("relay's parent is not remote")
	}
	if got := relay.SpanContext.TraceState().String(); got != nestState {
		t.Errorf("relay's trace state %q, want %q", got, nestState)
	}
	leafTCPClient := spantest.One(t, spans, "leaf (client, tcp)", named("leaf", trace.SpanKindClient, tid, "tcp"))
	leafTCPServer := spantest.One(t, spans, "leaf (server, tcp)", named("leaf", trace.SpanKindServer, tid, "tcp"))
	leafNATSClient := spantest.One(t, spans, "leaf (client, nats)", named("leaf", trace.SpanKindClient, tid, ""))
	leafNATSServer := spantest.One(t, spans, "leaf (server, nats)", named("leaf", trace.SpanKindServer, tid, "nats"))
	metaClient := spantest.One(t, spans, "meta (client)", named("meta", trace.SpanKindClient, tid, "tcp"))
	isChild(t, leafTCPClient, relay.SpanContext)
	isChild(t, leafTCPServer, leafTCPClient.SpanContext)
	isChild(t, leafNATSClient, relay.SpanContext)
	isChild(t, leafNATSServer, leafNATSClient.SpanContext)
	isChild(t, metaClient, relay.SpanContext)

	// What the NestJS 12 server read with TcpContext.getMetadata().
	var reply struct {
		TCP  string `json:"tcp"`
		NATS string `json:"nats"`
		Nest struct {
			Metadata map[string]string `json:"metadata"`
		} `json:"nest"`
	}
	if err := json.Unmarshal(byName["send"].Result, &reply); err != nil {
		t.Fatalf("send: %s: %v", byName["send"].Result, err)
	}
	if reply.TCP != "leaf over tcp" || reply.NATS != "leaf over nats" {
		t.Errorf("relay replied %s", byName["send"].Result)
	}
	if want := map[string]string{"traceparent": traceparentOf(metaClient.SpanContext), "tracestate": nestState}; !reflect.DeepEqual(reply.Nest.Metadata, want) {
		t.Errorf("the NestJS 12 server read metadata %v, want %v", reply.Nest.Metadata, want)
	}

	isChild(t, spantest.One(t, spans, "ticks (server)", named("ticks", trace.SpanKindServer, tid, "tcp")), nestSC)
	isChild(t, spantest.One(t, spans, "traced-evt (consumer)", named("traced-evt", trace.SpanKindConsumer, tid, "tcp")), nestSC)

	// The call without metadata: a trace of its own, the same shape.
	untraced := spantest.One(t, spans, "relay (server) in another trace", func(s tracetest.SpanStub) bool {
		return s.Name == "relay" && s.SpanContext.TraceID() != tid
	})
	if untraced.Parent.IsValid() {
		t.Errorf("relay without metadata has parent %s, want none", untraced.Parent.SpanID())
	}
	var inUntraced int
	for _, s := range spans {
		if s.SpanContext.TraceID() == untraced.SpanContext.TraceID() {
			inUntraced++
		}
	}
	if inUntraced != 6 {
		t.Errorf("%d spans in the trace of the call without metadata, want 6:\n%s", inUntraced, spantest.Describe(spans))
	}

	t.Logf("trace %s: NestJS 12 client span %s\n"+
		"  → our server relay %s\n"+
		"    → our client leaf %s → our server leaf (tcp) %s\n"+
		"    → our client leaf %s → our server leaf (nats) %s\n"+
		"    → our client meta %s → NestJS 12 server, which read traceparent %s",
		tid, nestSpanID, relay.SpanContext.SpanID(),
		leafTCPClient.SpanContext.SpanID(), leafTCPServer.SpanContext.SpanID(),
		leafNATSClient.SpanContext.SpanID(), leafNATSServer.SpanContext.SpanID(),
		metaClient.SpanContext.SpanID(), reply.Nest.Metadata["traceparent"])
}

// TestTraceNestNATSClientToGoServer: over NATS, the traceparent a NestJS 12
// ClientProxy's dispatch hook puts in the metadata (nats-client.mjs,
// scenario "metadata") makes our "meta" request span and "meta-evt"
// consumer span its children.
func TestTraceNestNATSClientToGoServer(t *testing.T) {
	node := requireNode(t)
	tp, exp := spantest.NewProvider(t)
	ns := natstest.Run(t, nil)
	srv := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1}, discard())
	srv.Use(otelrpc.Middleware(otelrpc.WithTracerProvider(tp)))
	demo.Register(srv)
	seen := registerMeta(srv)
	natstest.Serve(t, srv, ns.ClientURL())

	results := runScenarioScript(t, node, "12", time.Minute, "nats-client.mjs", "--nest", "12", "--url", ns.ClientURL(), "--only", "metadata")
	if len(results) != 1 || !results[0].OK {
		t.Fatalf("nats-client.mjs --only metadata: %v", results)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, events := seen.snapshot(); len(events) > 0 || time.Now().After(deadline) {
			break
		}
	}
	spans := spantest.Wait(t, exp, 2)
	tid := nestParent().TraceID()
	isChild(t, spantest.One(t, spans, "meta (server)", named("meta", trace.SpanKindServer, tid, "nats")), nestParent())
	isChild(t, spantest.One(t, spans, "meta-evt (consumer)", named("meta-evt", trace.SpanKindConsumer, tid, "nats")), nestParent())
}

// TestTraceGoClientToNestServer: our traced client calls NestJS servers of
// every major, over TCP (10, 11, 12) and NATS (11, 12). Every call works,
// each has a client (or producer) span that ends ok, and a NestJS 12 TCP
// server reads our span's traceparent in the request's and the event's
// metadata; NestJS 10 and 11 read none.
func TestTraceGoClientToNestServer(t *testing.T) {
	node := requireNode(t)
	for _, v := range nestMajors {
		t.Run("nest"+v, func(t *testing.T) {
			t.Parallel()
			tp, exp := spantest.NewProvider(t)
			srv := startNestServer(t, node, v, "0")
			c := otelrpc.WrapCaller(newNestClient(t, srv.addr()), otelrpc.WithTracerProvider(tp))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			ctx, root := tp.Tracer("test").Start(ctx, "test")

			sum, err := rpc.Call[[]int, int](ctx, c, "sum", []int{1, 2, 3})
			if err != nil || sum != 6 {
				t.Errorf("sum: %d, %v", sum, err)
			}
			var values []int
			for v, err := range rpc.StreamOf[int](ctx, c, "stream3", map[string]any{}) {
				if err != nil {
					t.Fatalf("stream3: %v", err)
				}
				values = append(values, v)
			}
			if !slices.Equal(values, []int{1, 2, 3}) {
				t.Errorf("stream3: %v", values)
			}
			var meta struct {
				Metadata map[string]string `json:"metadata"`
			}
			if err := c.Send(ctx, "meta", map[string]any{}, &meta); err != nil {
				t.Fatalf("meta: %v", err)
			}
			if err := c.Emit(ctx, "meta-evt", map[string]any{}); err != nil {
				t.Fatalf("meta-evt: %v", err)
			}
			// A separate, untraced Caller would do too; the traced one adds a
			// span per poll, counted below.
			metaEvents, err := pollEvents[map[string]string](ctx, c, "meta-events", 1)
			if err != nil {
				t.Fatal(err)
			}
			root.End()

			spans := exp.GetSpans()
			metaSpan := spantest.One(t, spans, "meta (client)", named("meta", trace.SpanKindClient, root.SpanContext().TraceID(), "tcp"))
			evtSpan := spantest.One(t, spans, "meta-evt (producer)", named("meta-evt", trace.SpanKindProducer, root.SpanContext().TraceID(), "tcp"))
			var wantMeta, wantEvt map[string]string
			if v == "12" {
				wantMeta = map[string]string{"traceparent": traceparentOf(metaSpan.SpanContext)}
				wantEvt = map[string]string{"traceparent": traceparentOf(evtSpan.SpanContext)}
			}
			if !reflect.DeepEqual(meta.Metadata, wantMeta) {
				t.Errorf("NestJS %s read the request's metadata %v, want %v", v, meta.Metadata, wantMeta)
			}
			if len(metaEvents) != 1 || !reflect.DeepEqual(metaEvents[0], wantEvt) {
				t.Errorf("NestJS %s read the event's metadata %v, want [%v]", v, metaEvents, wantEvt)
			}
			for _, s := range spans {
				if s.Name != "test" {
					isChild(t, s, root.SpanContext())
				}
			}
			for _, name := range []string{"sum", "stream3"} {
				spantest.One(t, spans, name, named(name, trace.SpanKindClient, root.SpanContext().TraceID(), "tcp"))
			}
		})
	}
	for _, v := range natsMajors {
		t.Run("nats-nest"+v, func(t *testing.T) {
			t.Parallel()
			tp, exp := spantest.NewProvider(t)
			ns := natstest.Run(t, nil)
			startNestProc(t, node, v, "nats-server.mjs", "--url", ns.ClientURL())
			c := otelrpc.WrapCaller(natstest.Dial(t, ns.ClientURL()), otelrpc.WithTracerProvider(tp), otelrpc.WithAttributes(otelrpc.TransportKey.String("nats")))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			ctx, root := tp.Tracer("test").Start(ctx, "test")
			if sum, err := rpc.Call[[]int, int](ctx, c, "sum", []int{1, 2, 3}); err != nil || sum != 6 {
				t.Errorf("sum: %d, %v", sum, err)
			}
			var n int
			for _, err := range c.Stream(ctx, "stream3", map[string]any{}) {
				if err != nil {
					t.Fatalf("stream3: %v", err)
				}
				n++
			}
			if err := c.Emit(ctx, "evt", map[string]int{"n": 1}); err != nil {
				t.Fatalf("evt: %v", err)
			}
			got, err := pollEvents[map[string]int](ctx, c, "events", 1)
			if err != nil {
				t.Fatal(err)
			}
			root.End()
			if n != 3 || !reflect.DeepEqual(got, []map[string]int{{"n": 1}}) {
				t.Errorf("stream3 gave %d values, events %v", n, got)
			}
			spans := exp.GetSpans()
			for _, s := range spans {
				if s.Name != "test" {
					isChild(t, s, root.SpanContext())
				}
			}
			spantest.One(t, spans, "stream3 (client)", named("stream3", trace.SpanKindClient, root.SpanContext().TraceID(), "nats"))
			spantest.One(t, spans, "evt (producer)", named("evt", trace.SpanKindProducer, root.SpanContext().TraceID(), "nats"))
		})
	}
}
