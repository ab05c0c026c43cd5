// Package spantest is for tests of tracing: a tracer provider of the
// OpenTelemetry SDK that exports every span to memory, and checks of the
// spans it holds. otelrpc's and interop's tests use it.
package spantest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// NewProvider is a tracer provider that exports every span, synchronously,
// to the returned in-memory exporter. It is shut down when the test ends.
func NewProvider(t testing.TB) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, exp
}

// Wait waits (up to 10 s) until exp holds n spans and returns them; any
// other number fails the test. A server span may end just after its reply
// reached the caller.
func Wait(t testing.TB, exp *tracetest.InMemoryExporter, n int) tracetest.SpanStubs {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		spans := exp.GetSpans()
		if len(spans) >= n || time.Now().After(deadline) {
			if len(spans) != n {
				t.Fatalf("%d spans, want %d:\n%s", len(spans), n, Describe(spans))
			}
			return spans
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Describe lists spans, one a line, for a failure message.
func Describe(spans tracetest.SpanStubs) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "  %-10s %-8v trace=%s span=%s parent=%s status=%v %v\n", s.Name, s.SpanKind,
			s.SpanContext.TraceID(), s.SpanContext.SpanID(), s.Parent.SpanID(), s.Status.Code, s.Attributes)
	}
	return b.String()
}

// One returns the one span of spans that matches; none or more than one
// fails the test, which names the span as what.
func One(t testing.TB, spans tracetest.SpanStubs, what string, match func(tracetest.SpanStub) bool) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range spans {
		if match(s) {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d spans %s, want 1, among:\n%s", len(found), what, Describe(spans))
	}
	return found[0]
}

// ChildOf requires child to be the child of parent: the same trace, and
// parent's span id as its parent's.
func ChildOf(t testing.TB, child tracetest.SpanStub, parent trace.SpanContext) {
	t.Helper()
	if child.SpanContext.TraceID() != parent.TraceID() || child.Parent.SpanID() != parent.SpanID() {
		t.Errorf("span %s (%v) is in trace %s under %s, want trace %s under %s", child.Name, child.SpanKind,
			child.SpanContext.TraceID(), child.Parent.SpanID(), parent.TraceID(), parent.SpanID())
	}
}
