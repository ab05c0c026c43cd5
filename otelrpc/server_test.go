package otelrpc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/msgpattern/msgpattern/internal/spantest"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestServerSpans: the middleware's span for each kind of message and
// outcome, over TCP, called by a plain (untraced) client that sets the
// metadata itself.
func TestServerSpans(t *testing.T) {
	tp, exp := spantest.NewProvider(t)
	srv, seen := newTracedServer(t, tp, nil)
	c := startTCP(t, srv)

	tcp := map[string]string{"rpc.system.name": "nestjs", "msgpattern.transport": "tcp", "network.transport": "tcp", "network.peer.address": "127.0.0.1"}
	with := func(m map[string]string) map[string]string { return merged(tcp, m) }
	tests := []struct {
		name     string
		route    string
		data     any
		metadata map[string]any
		event    bool
		parent   trace.SpanContext // the remote parent; invalid: a new trace
		state    string            // the trace state the handler's context has
		status   codes.Code
		attrs    map[string]string
		absent   []string
	}{
		{name: "traceparent in metadata", route: "ok", metadata: map[string]any{"traceparent": traceparent},
			parent: remoteParent(), attrs: with(map[string]string{"rpc.method": "ok", "msgpattern.outcome": "ok"}),
			absent: []string{"error.type", "rpc.response.status_code"}},
		{name: "no metadata: a new trace", route: "ok",
			attrs: with(map[string]string{"rpc.method": "ok", "msgpattern.outcome": "ok"})},
		{name: "other metadata only: a new trace", route: "ok", metadata: map[string]any{"tenant": "a"},
			attrs: with(map[string]string{"msgpattern.outcome": "ok"})},
		{name: "tracestate", route: "whoami", metadata: map[string]any{"traceparent": traceparent, "tracestate": "vendor=x,other=y"},
			parent: remoteParent(), state: "vendor=x,other=y", attrs: with(map[string]string{"msgpattern.outcome": "ok"})},
		{name: "keys in another case", route: "ok", metadata: map[string]any{"Traceparent": traceparent},
			parent: remoteParent(), attrs: with(nil)},
		{name: "invalid traceparent: a new trace", route: "ok", metadata: map[string]any{"traceparent": "00-zz-yy-01"},
			attrs: with(nil)},
		{name: "traceparent that is not a string: a new trace", route: "ok", metadata: map[string]any{"traceparent": 12},
			attrs: with(nil)},
		{name: "stream", route: "ticks", metadata: map[string]any{"traceparent": traceparent},
			parent: remoteParent(), attrs: with(map[string]string{"rpc.method": "ticks", "msgpattern.outcome": "ok"})},
		{name: "rpc.Error", route: "rpcerr", parent: remoteParent(), metadata: map[string]any{"traceparent": traceparent},
			status: codes.Error, attrs: with(map[string]string{"msgpattern.outcome": "error", "error.type": "rpc", "rpc.response.status_code": "error"})},
		{name: "rpc.Error with an object", route: "objerr", status: codes.Error,
			attrs: with(map[string]string{"error.type": "rpc", "rpc.response.status_code": "400"})},
		{name: "plain error", route: "fail", status: codes.Error,
			attrs: with(map[string]string{"msgpattern.outcome": "error", "error.type": "handler", "rpc.response.status_code": "error"})},
		{name: "panic", route: "panic", status: codes.Error,
			attrs: with(map[string]string{"msgpattern.outcome": "error", "error.type": "panic"})},
		{name: "data that does not decode", route: "typed", data: "not a list", status: codes.Error,
			attrs: with(map[string]string{"error.type": "decode"})},
		{name: "late past the deadline", route: "late", status: codes.Error,
			attrs: with(map[string]string{"msgpattern.outcome": "error", "error.type": "timeout"})},
		// The caller got the timeout reply, and the metrics count a
		// timeout, whatever the late handler returned.
		{name: "late error past the deadline", route: "lateerr", status: codes.Error,
			attrs: with(map[string]string{"msgpattern.outcome": "error", "error.type": "timeout", "rpc.response.status_code": "error"})},
		{name: "event", route: "evt", event: true, metadata: map[string]any{"traceparent": traceparent},
			parent: remoteParent(), attrs: with(map[string]string{"rpc.method": "evt", "msgpattern.outcome": "ok"})},
		{name: "event without metadata", route: "evt", event: true, attrs: with(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp.Reset()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var opts []rpc.CallOption
			if tt.metadata != nil {
				opts = append(opts, rpc.WithMetadataValues(tt.metadata))
			}
			var handlerSaw trace.SpanContext
			if tt.event {
				if err := c.Emit(ctx, tt.route, tt.data, opts...); err != nil {
					t.Fatal(err)
				}
				select {
				case handlerSaw = <-seen.events:
				case <-ctx.Done():
					t.Fatal("the event was not handled")
				}
			} else {
				var reply map[string]any
				var out any
				if tt.route == "whoami" {
					out = &reply
				}
				_ = c.Send(ctx, tt.route, tt.data, out, opts...)
				if tt.state != "" && reply["tracestate"] != tt.state {
					t.Errorf("the handler's context has trace state %q, want %q", reply["tracestate"], tt.state)
				}
			}
			spans := spantest.Wait(t, exp, 1)
			kind := trace.SpanKindServer
			if tt.event {
				kind = trace.SpanKindConsumer
			}
			s := find(t, spans, tt.route, kind)
			if tt.parent.IsValid() {
				spantest.ChildOf(t, s, tt.parent)
				if !s.Parent.IsRemote() {
					t.Errorf("the parent of span %s is not remote", s.Name)
				}
			} else if s.Parent.IsValid() {
				t.Errorf("span %s has parent %s, want a new trace", s.Name, s.Parent.SpanID())
			}
			if s.Status.Code != tt.status {
				t.Errorf("span %s has status %v %q, want %v", s.Name, s.Status.Code, s.Status.Description, tt.status)
			}
			if tt.status == codes.Error && s.Status.Description == "" {
				t.Errorf("span %s: an error status without a description", s.Name)
			}
			checkAttrs(t, s, tt.attrs, tt.absent...)
			if _, ok := attrs(s)["network.peer.port"]; !ok {
				t.Errorf("span %s has no network.peer.port", s.Name)
			}
			// The handler's context carries the span.
			if handlerSaw.IsValid() && handlerSaw.SpanID() != s.SpanContext.SpanID() {
				t.Errorf("the event handler's context has span %s, want %s", handlerSaw.SpanID(), s.SpanContext.SpanID())
			}
			if saw := seen.get(tt.route); len(saw) > 0 && saw[len(saw)-1].SpanID() != s.SpanContext.SpanID() {
				t.Errorf("the handler's context has span %s, want %s", saw[len(saw)-1].SpanID(), s.SpanContext.SpanID())
			}
			if tt.status == codes.Error && (len(s.Events) == 0 || s.Events[0].Name != "exception") {
				t.Errorf("span %s has no exception event: %v", s.Name, s.Events)
			}
		})
	}
}

// TestServerLogs: records logged with the handler's context carry the
// span's trace and span ids.
func TestServerLogs(t *testing.T) {
	tp, exp := spantest.NewProvider(t)
	srv, seen := newTracedServer(t, tp, nil)
	c := startTCP(t, srv)
	ctx := context.Background()
	if err := c.Send(ctx, "whoami", nil, nil, rpc.WithMetadata(map[string]string{"traceparent": traceparent})); err != nil {
		t.Fatal(err)
	}
	s := find(t, spantest.Wait(t, exp, 1), "whoami", trace.SpanKindServer)
	want := "level=INFO msg=serving route=whoami trace_id=" + remoteTrace + " span_id=" + s.SpanContext.SpanID().String() + "\n"
	if got := seen.logText(); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
}

// TestServerNoopProvider: with a no-op provider the middleware records
// nothing, and the handler's context keeps the caller's trace context, so
// calls it makes still carry it.
func TestServerNoopProvider(t *testing.T) {
	srv, seen := newTracedServer(t, noop.NewTracerProvider(), nil)
	c := startTCP(t, srv)
	var reply map[string]any
	if err := c.Send(context.Background(), "whoami", nil, &reply, rpc.WithMetadata(map[string]string{"traceparent": traceparent})); err != nil {
		t.Fatal(err)
	}
	if reply["trace"] != remoteTrace || reply["span"] != remoteSpan {
		t.Errorf("the handler's context has trace %v span %v, want the caller's %s %s", reply["trace"], reply["span"], remoteTrace, remoteSpan)
	}
	if !strings.Contains(seen.logText(), "trace_id="+remoteTrace) {
		t.Errorf("log without the caller's trace id: %q", seen.logText())
	}
}
