package otelrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/internal/spantest"
	"github.com/msgpattern/msgpattern/otelrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientToServer: our client (WrapCaller) calls our server (the
// middleware), over TCP and over NATS: every server span is the child of
// the client span that called it, in the trace of the caller's context.
func TestClientToServer(t *testing.T) {
	for _, transport := range []string{"tcp", "nats"} {
		t.Run(transport, func(t *testing.T) {
			tp, exp := spantest.NewProvider(t)
			var caller rpc.Caller
			srv, seen := newTracedServer(t, tp, func() rpc.Caller { return caller })
			var raw rpc.Caller
			serverAttrs := map[string]string{"rpc.system.name": "nestjs", "msgpattern.transport": transport}
			var serverAbsent []string
			clientAttrs := map[string]string{"rpc.system.name": "nestjs"}
			var clientAbsent []string
			if transport == "tcp" {
				raw = startTCP(t, srv)
				serverAttrs["network.transport"] = "tcp"
				clientAttrs["msgpattern.transport"] = "tcp"
				clientAttrs["network.transport"] = "tcp"
			} else {
				raw = serveNATS(t, srv, natstest.Run(t, nil))
				serverAbsent = []string{"network.transport", "network.peer.address"}
				clientAbsent = []string{"msgpattern.transport", "network.transport"}
			}
			caller = otelrpc.WrapCaller(raw, otelrpc.WithTracerProvider(tp))
			tracer := tp.Tracer("test")

			tests := []struct {
				name string
				call func(ctx context.Context) error
				// spans: the client span, then the server span (if any)
				route       string
				clientKind  trace.SpanKind
				serverKind  trace.SpanKind // 0: no server span
				spans       int            // total, the test's root included
				status      codes.Code
				clientAttrs map[string]string
			}{
				{name: "send", route: "ok", clientKind: trace.SpanKindClient, serverKind: trace.SpanKindServer, spans: 3,
					call: func(ctx context.Context) error {
						got, err := rpc.Call[any, string](ctx, caller, "ok", nil)
						if err == nil && got != "pong" {
							err = errors.New("got " + got)
						}
						return err
					},
					clientAttrs: map[string]string{"rpc.method": "ok", "msgpattern.outcome": "ok"}},
				{name: "stream", route: "ticks", clientKind: trace.SpanKindClient, serverKind: trace.SpanKindServer, spans: 3,
					call: func(ctx context.Context) error {
						var got []int
						for v, err := range rpc.StreamOf[int](ctx, caller, "ticks", nil) {
							if err != nil {
								return err
							}
							got = append(got, v)
						}
						if !reflect.DeepEqual(got, []int{3, 2, 1}) {
							return errors.New("wrong values")
						}
						return nil
					},
					clientAttrs: map[string]string{"msgpattern.outcome": "ok", "msgpattern.stream.values": "3"}},
				{name: "stream abandoned", route: "ticks", clientKind: trace.SpanKindClient, serverKind: trace.SpanKindServer, spans: 3,
					call: func(ctx context.Context) error {
						for _, err := range caller.Stream(ctx, "ticks", nil) {
							return err
						}
						return nil
					},
					clientAttrs: map[string]string{"msgpattern.outcome": "abandoned", "msgpattern.stream.values": "1"}},
				{name: "emit", route: "evt", clientKind: trace.SpanKindProducer, serverKind: trace.SpanKindConsumer, spans: 3,
					call: func(ctx context.Context) error {
						if err := caller.Emit(ctx, "evt", map[string]int{"n": 1}); err != nil {
							return err
						}
						select {
						case <-seen.events:
							return nil
						case <-ctx.Done():
							return ctx.Err()
						}
					},
					clientAttrs: map[string]string{"rpc.method": "evt", "msgpattern.outcome": "ok"}},
				{name: "object pattern", route: `{"cmd":"ok"}`, clientKind: trace.SpanKindClient, serverKind: trace.SpanKindServer, spans: 3,
					call: func(ctx context.Context) error {
						// The cmd convenience: "ok" answers {"cmd":"ok"}, and the
						// server's route key is the handler's.
						return caller.Send(ctx, map[string]any{"cmd": "ok"}, nil, nil)
					},
					clientAttrs: map[string]string{"rpc.method": `{"cmd":"ok"}`}},
				{name: "remote error", route: "rpcerr", clientKind: trace.SpanKindClient, serverKind: trace.SpanKindServer, spans: 3, status: codes.Error,
					call: func(ctx context.Context) error {
						if err := caller.Send(ctx, "rpcerr", nil, nil); err == nil {
							return errors.New("no error")
						}
						return nil
					},
					clientAttrs: map[string]string{"msgpattern.outcome": "error", "error.type": "remote", "rpc.response.status_code": "error"}},
				{name: "remote error object", route: "objerr", clientKind: trace.SpanKindClient, serverKind: trace.SpanKindServer, spans: 3, status: codes.Error,
					call: func(ctx context.Context) error {
						_ = caller.Send(ctx, "objerr", nil, nil)
						return nil
					},
					clientAttrs: map[string]string{"error.type": "remote", "rpc.response.status_code": "400"}},
				{name: "stream error", route: "rpcerr", clientKind: trace.SpanKindClient, serverKind: trace.SpanKindServer, spans: 3, status: codes.Error,
					call: func(ctx context.Context) error {
						for _, err := range caller.Stream(ctx, "rpcerr", nil) {
							if err == nil {
								return errors.New("a value")
							}
						}
						return nil
					},
					clientAttrs: map[string]string{"error.type": "remote", "msgpattern.stream.values": "0"}},
				{name: "no handler", route: "nope", clientKind: trace.SpanKindClient, spans: 2, status: codes.Error,
					call: func(ctx context.Context) error {
						if err := caller.Send(ctx, "nope", nil, nil); !errors.Is(err, rpc.ErrNoHandler) {
							return errors.New("not ErrNoHandler")
						}
						return nil
					},
					clientAttrs: map[string]string{"error.type": "no_handler"}},
				{name: "timeout", route: "stall", clientKind: trace.SpanKindClient, serverKind: trace.SpanKindServer, spans: 3, status: codes.Error,
					call: func(ctx context.Context) error {
						select {
						case <-stallRelease: // left by a run whose request never reached the server
						default:
						}
						// The server holds its reply until released, after
						// the deadline: the deadline ends the call. 1 s (not
						// 20 ms) lets the request reach the server, which
						// makes the server span, on a loaded machine too.
						ctx, cancel := context.WithTimeout(ctx, time.Second)
						defer cancel()
						err := caller.Send(ctx, "stall", nil, nil)
						stallRelease <- struct{}{}
						if !errors.Is(err, context.DeadlineExceeded) {
							return errors.New("not DeadlineExceeded")
						}
						return nil
					},
					clientAttrs: map[string]string{"error.type": "timeout"}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					exp.Reset()
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					ctx, root := tracer.Start(ctx, "test")
					if err := tt.call(ctx); err != nil {
						t.Fatal(err)
					}
					root.End()
					spans := spantest.Wait(t, exp, tt.spans)
					client := find(t, spans, tt.route, tt.clientKind)
					spantest.ChildOf(t, client, root.SpanContext())
					if client.Status.Code != tt.status {
						t.Errorf("client span: status %v %q, want %v", client.Status.Code, client.Status.Description, tt.status)
					}
					checkAttrs(t, client, merged(clientAttrs, tt.clientAttrs), clientAbsent...)
					if tt.serverKind == 0 {
						return
					}
					serverRoute := tt.route
					if tt.name == "object pattern" {
						serverRoute = "ok"
					}
					server := find(t, spans, serverRoute, tt.serverKind)
					spantest.ChildOf(t, server, client.SpanContext)
					checkAttrs(t, server, merged(serverAttrs, map[string]string{"rpc.method": serverRoute}), serverAbsent...)
				})
			}

			t.Run("relay", func(t *testing.T) {
				// client → server "relay" → its client → server "ok": one trace.
				exp.Reset()
				ctx, root := tracer.Start(context.Background(), "test")
				got, err := rpc.Call[any, string](ctx, caller, "relay", nil)
				root.End()
				if err != nil || got != "relayed pong" {
					t.Fatalf("relay: %q, %v", got, err)
				}
				spans := spantest.Wait(t, exp, 5)
				c1 := find(t, spans, "relay", trace.SpanKindClient)
				s1 := find(t, spans, "relay", trace.SpanKindServer)
				c2 := find(t, spans, "ok", trace.SpanKindClient)
				s2 := find(t, spans, "ok", trace.SpanKindServer)
				spantest.ChildOf(t, c1, root.SpanContext())
				spantest.ChildOf(t, s1, c1.SpanContext)
				spantest.ChildOf(t, c2, s1.SpanContext)
				spantest.ChildOf(t, s2, c2.SpanContext)
				t.Logf("trace %s: test %s → client relay %s → server relay %s → client ok %s → server ok %s",
					root.SpanContext().TraceID(), root.SpanContext().SpanID(), c1.SpanContext.SpanID(), s1.SpanContext.SpanID(),
					c2.SpanContext.SpanID(), s2.SpanContext.SpanID())
			})

			t.Run("metadata merged", func(t *testing.T) {
				exp.Reset()
				var reply struct {
					Trace    string            `json:"trace"`
					Span     string            `json:"span"`
					Metadata map[string]string `json:"metadata"`
				}
				md := map[string]string{"tenant": "a", "traceparent": otherParent}
				if err := caller.Send(context.Background(), "whoami", nil, &reply, rpc.WithMetadata(md)); err != nil {
					t.Fatal(err)
				}
				spans := spantest.Wait(t, exp, 2)
				client := find(t, spans, "whoami", trace.SpanKindClient)
				server := find(t, spans, "whoami", trace.SpanKindServer)
				spantest.ChildOf(t, server, client.SpanContext)
				// The call's own metadata goes too; the client span's
				// traceparent replaces the call's.
				want := "00-" + client.SpanContext.TraceID().String() + "-" + client.SpanContext.SpanID().String() + "-01"
				if reply.Metadata["tenant"] != "a" || reply.Metadata["traceparent"] != want {
					t.Errorf("the server saw metadata %v, want tenant a and traceparent %s", reply.Metadata, want)
				}
				if reply.Span != server.SpanContext.SpanID().String() {
					t.Errorf("the handler's context has span %s, want %s", reply.Span, server.SpanContext.SpanID())
				}
				if md["traceparent"] != otherParent || len(md) != 2 {
					t.Errorf("the caller's metadata map was modified: %v", md)
				}
			})
		})
	}
}

// TestNATSHeaders: over NATS the server also reads the trace context from
// the message's headers (as other NATS instrumentation sends it); the
// metadata wins when both carry one.
func TestNATSHeaders(t *testing.T) {
	tp, exp := spantest.NewProvider(t)
	srv, seen := newTracedServer(t, tp, nil)
	ns := natstest.Run(t, nil)
	serveNATS(t, srv, ns)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	tests := []struct {
		name   string
		header nats.Header
		packet string
		event  bool
		parent trace.SpanContext
	}{
		{name: "traceparent header", header: nats.Header{"traceparent": {traceparent}},
			packet: `{"pattern":"whoami","data":null,"id":"1"}`, parent: remoteParent()},
		{name: "Traceparent header", header: nats.Header{"Traceparent": {traceparent}, "Tracestate": {"k=v"}},
			packet: `{"pattern":"whoami","data":null,"id":"2"}`, parent: remoteParent()},
		{name: "metadata wins over the header", header: nats.Header{"traceparent": {otherParent}},
			packet: `{"pattern":"whoami","data":null,"metadata":{"traceparent":"` + traceparent + `"},"id":"3"}`, parent: remoteParent()},
		{name: "header with other metadata", header: nats.Header{"traceparent": {otherParent}},
			packet: `{"pattern":"whoami","data":null,"metadata":{"tenant":"a"},"id":"4"}`, parent: otherRemoteParent()},
		{name: "no trace context", header: nats.Header{"x-trace": {"abc"}},
			packet: `{"pattern":"whoami","data":null,"id":"5"}`},
		{name: "event with a traceparent header", header: nats.Header{"traceparent": {traceparent}},
			packet: `{"pattern":"evt","data":1}`, event: true, parent: remoteParent()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp.Reset()
			var pattern struct {
				Pattern string `json:"pattern"`
			}
			if err := json.Unmarshal([]byte(tt.packet), &pattern); err != nil {
				t.Fatal(err)
			}
			msg := &nats.Msg{Subject: pattern.Pattern, Header: tt.header, Data: []byte(tt.packet)}
			kind := trace.SpanKindServer
			if tt.event {
				kind = trace.SpanKindConsumer
				if err := nc.PublishMsg(msg); err != nil {
					t.Fatal(err)
				}
				select {
				case <-seen.events:
				case <-time.After(5 * time.Second):
					t.Fatal("the event was not handled")
				}
			} else if _, err := nc.RequestMsg(msg, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			s := find(t, spantest.Wait(t, exp, 1), pattern.Pattern, kind)
			if tt.parent.IsValid() {
				spantest.ChildOf(t, s, tt.parent)
			} else if s.Parent.IsValid() {
				t.Errorf("span has parent %s, want a new trace", s.Parent.SpanID())
			}
			checkAttrs(t, s, map[string]string{"msgpattern.transport": "nats", "rpc.method": pattern.Pattern})
		})
	}
}

// recordingCaller is a Caller that records the metadata of each call.
type recordingCaller struct {
	metadata []map[string]any
	err      error
}

func (r *recordingCaller) record(opts []rpc.CallOption) {
	r.metadata = append(r.metadata, rpc.CallSettingsOf(opts...).Metadata)
}

func (r *recordingCaller) Send(_ context.Context, _ any, _ any, _ any, opts ...rpc.CallOption) error {
	r.record(opts)
	return r.err
}

func (r *recordingCaller) Emit(_ context.Context, _ any, _ any, opts ...rpc.CallOption) error {
	r.record(opts)
	return r.err
}

func (r *recordingCaller) Stream(_ context.Context, _ any, _ any, opts ...rpc.CallOption) iter.Seq2[json.RawMessage, error] {
	return func(yield func(json.RawMessage, error) bool) {
		r.record(opts)
		if r.err != nil {
			yield(nil, r.err)
			return
		}
		yield(json.RawMessage("1"), nil)
	}
}

// TestInjection: what WrapCaller puts in a call's metadata, by propagator
// and provider, whatever the transport.
func TestInjection(t *testing.T) {
	tp, exp := spantest.NewProvider(t)
	baggageOnly := propagation.Baggage{}
	tests := []struct {
		name    string
		opts    []otelrpc.Option
		parent  bool // the call's context has a span
		callMD  map[string]string
		want    func(client tracetest.SpanStub) map[string]any
		noSpans bool
	}{
		{name: "a new trace", opts: []otelrpc.Option{otelrpc.WithTracerProvider(tp)},
			want: func(c tracetest.SpanStub) map[string]any {
				return map[string]any{"traceparent": "00-" + c.SpanContext.TraceID().String() + "-" + c.SpanContext.SpanID().String() + "-01"}
			}},
		{name: "under a parent, with the call's metadata", opts: []otelrpc.Option{otelrpc.WithTracerProvider(tp)}, parent: true,
			callMD: map[string]string{"tenant": "a"},
			want: func(c tracetest.SpanStub) map[string]any {
				return map[string]any{"tenant": "a", "traceparent": "00-" + remoteTrace + "-" + c.SpanContext.SpanID().String() + "-01"}
			}},
		{name: "a propagator without trace context", opts: []otelrpc.Option{otelrpc.WithTracerProvider(tp), otelrpc.WithPropagators(baggageOnly)},
			callMD: map[string]string{"tenant": "a"},
			want:   func(tracetest.SpanStub) map[string]any { return map[string]any{"tenant": "a"} }},
		{name: "no-op provider, no parent: nothing to send", opts: []otelrpc.Option{otelrpc.WithTracerProvider(noop.NewTracerProvider())},
			noSpans: true, want: func(tracetest.SpanStub) map[string]any { return nil }},
		{name: "no-op provider keeps passing the parent on", opts: []otelrpc.Option{otelrpc.WithTracerProvider(noop.NewTracerProvider())},
			parent: true, noSpans: true, want: func(tracetest.SpanStub) map[string]any { return map[string]any{"traceparent": traceparent} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, method := range []string{"Send", "Stream", "Emit"} {
				exp.Reset()
				rec := &recordingCaller{}
				c := otelrpc.WrapCaller(rec, tt.opts...)
				ctx := context.Background()
				if tt.parent {
					ctx = trace.ContextWithRemoteSpanContext(ctx, remoteParent())
				}
				// A slice with room: WrapCaller must not write past it.
				opts := make([]rpc.CallOption, 0, 4)
				if tt.callMD != nil {
					opts = append(opts, rpc.WithMetadata(tt.callMD))
				}
				sentinel := opts[:cap(opts)][len(opts) : len(opts)+1]
				switch method {
				case "Send":
					_ = c.Send(ctx, "p", nil, nil, opts...)
				case "Emit":
					_ = c.Emit(ctx, "p", nil, opts...)
				case "Stream":
					for range c.Stream(ctx, "p", nil, opts...) {
					}
				}
				if sentinel[0] != nil {
					t.Errorf("%s wrote to the caller's options slice", method)
				}
				var client tracetest.SpanStub
				if tt.noSpans {
					if n := len(exp.GetSpans()); n != 0 {
						t.Errorf("%s: %d spans, want none", method, n)
					}
				} else {
					client = spantest.Wait(t, exp, 1)[0]
				}
				if len(rec.metadata) != 1 {
					t.Fatalf("%s: %d calls", method, len(rec.metadata))
				}
				if got, want := rec.metadata[0], tt.want(client); !reflect.DeepEqual(got, want) {
					t.Errorf("%s sent metadata %v, want %v", method, got, want)
				}
			}
		})
	}

	t.Run("invalid pattern: untraced", func(t *testing.T) {
		exp.Reset()
		rec := &recordingCaller{}
		c := otelrpc.WrapCaller(rec, otelrpc.WithTracerProvider(tp))
		_ = c.Send(context.Background(), make(chan int), nil, nil)
		_ = c.Emit(context.Background(), func() {}, nil)
		for range c.Stream(context.Background(), func() {}, nil) {
		}
		if len(rec.metadata) != 3 || rec.metadata[0] != nil || rec.metadata[1] != nil || rec.metadata[2] != nil {
			t.Errorf("metadata sent %v, want three calls without", rec.metadata)
		}
		if n := len(exp.GetSpans()); n != 0 {
			t.Errorf("%d spans, want none", n)
		}
	})

	t.Run("local errors", func(t *testing.T) {
		for _, tc := range []struct {
			err  error
			kind string
		}{
			{rpc.ErrConnectionLost, "connection_lost"},
			{rpc.ErrClientClosed, "client_closed"},
			{context.Canceled, "canceled"},
			{errors.New("other"), "_OTHER"},
		} {
			exp.Reset()
			c := otelrpc.WrapCaller(&recordingCaller{err: tc.err}, otelrpc.WithTracerProvider(tp))
			_ = c.Send(context.Background(), "p", nil, nil)
			s := spantest.Wait(t, exp, 1)[0]
			if s.Status.Code != codes.Error {
				t.Errorf("%v: status %v", tc.err, s.Status.Code)
			}
			checkAttrs(t, s, map[string]string{"error.type": tc.kind, "msgpattern.outcome": "error"}, "rpc.response.status_code")
		}
	})
}

// TestGlobalDefaults: without options, the global provider and propagator;
// with the global propagator unset (a no-op), W3C Trace Context and
// Baggage.
func TestGlobalDefaults(t *testing.T) {
	tp, exp := spantest.NewProvider(t)
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })

	send := func() map[string]any {
		rec := &recordingCaller{}
		_ = otelrpc.WrapCaller(rec).Send(context.Background(), "p", nil, nil)
		return rec.metadata[0]
	}
	// Unset: TraceContext.
	md := send()
	client := spantest.Wait(t, exp, 1)[0]
	if want := "00-" + client.SpanContext.TraceID().String() + "-" + client.SpanContext.SpanID().String() + "-01"; md["traceparent"] != want {
		t.Errorf("with the global propagator unset: metadata %v, want traceparent %s", md, want)
	}

	// Set: the global one is used.
	orig := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(fixedPropagator{})
	t.Cleanup(func() { otel.SetTextMapPropagator(orig) })
	if md := send(); !reflect.DeepEqual(md, map[string]any{"x-fixed": "1"}) {
		t.Errorf("with a global propagator: metadata %v, want x-fixed only", md)
	}
}

// fixedPropagator injects x-fixed: 1.
type fixedPropagator struct{}

func (fixedPropagator) Inject(_ context.Context, c propagation.TextMapCarrier) { c.Set("x-fixed", "1") }
func (fixedPropagator) Extract(ctx context.Context, _ propagation.TextMapCarrier) context.Context {
	return ctx
}
func (fixedPropagator) Fields() []string { return []string{"x-fixed"} }
