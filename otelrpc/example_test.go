package otelrpc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/msgpattern/msgpattern/otelrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// A traced server and a traced client: the client's span is the parent of
// the server's, in the trace of the caller's context. A program sets its
// provider once (otel.SetTracerProvider) and passes no option; this one
// keeps the spans in memory to print them.
func Example() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())

	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv.Use(otelrpc.Middleware(otelrpc.WithTracerProvider(tp)))
	srv.Handle("sum", rpc.Typed(func(_ context.Context, xs []int) (int, error) {
		total := 0
		for _, x := range xs {
			total += x
		}
		return total, nil
	}))
	if err := srv.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())

	client, err := rpc.NewClient(srv.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	traced := otelrpc.WrapCaller(client, otelrpc.WithTracerProvider(tp))

	ctx, span := tp.Tracer("shop").Start(context.Background(), "checkout")
	total, err := rpc.Call[[]int, int](ctx, traced, "sum", []int{1, 2, 3})
	span.End()
	fmt.Println(total, err)

	// The server's span may end just after the reply reached the client.
	for deadline := time.Now().Add(5 * time.Second); len(exp.GetSpans()) < 3 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	spans := exp.GetSpans()
	sort.Slice(spans, func(i, j int) bool { return spans[i].StartTime.Before(spans[j].StartTime) })
	names := map[trace.SpanID]string{}
	for _, s := range spans {
		names[s.SpanContext.SpanID()] = s.Name + " (" + s.SpanKind.String() + ")"
		parent := "a new trace"
		if s.Parent.IsValid() {
			parent = "child of " + names[s.Parent.SpanID()]
		}
		fmt.Printf("%s (%s): %s, same trace: %v\n", s.Name, s.SpanKind, parent, s.SpanContext.TraceID() == span.SpanContext().TraceID())
	}
	// Output:
	// 6 <nil>
	// checkout (internal): a new trace, same trace: true
	// sum (client): child of checkout (internal), same trace: true
	// sum (server): child of sum (client), same trace: true
}

// A NestJS 12 ClientProxy sends its trace context in the packet's
// metadata, from a dispatch hook:
//
//	client.setOnDispatchHook((packet) => {
//	  const carrier = {};
//	  propagation.inject(context.active(), carrier); // @opentelemetry/api
//	  packet.metadata = { ...packet.metadata, ...carrier };
//	});
//
// The middleware makes the server's span its child. Here a Go client sends
// the same metadata by hand.
func ExampleMiddleware() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())

	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv.Use(otelrpc.Middleware(otelrpc.WithTracerProvider(tp)))
	srv.Handle("whoami", rpc.ContextFunc(func(ctx context.Context, _ json.RawMessage) (any, error) {
		// The handler's context carries the server's span.
		return trace.SpanContextFromContext(ctx).TraceID().String(), nil
	}))
	if err := srv.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())
	client, err := rpc.NewClient(srv.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	var traceID string
	err = client.Send(context.Background(), "whoami", nil, &traceID, rpc.WithMetadata(map[string]string{
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}))
	fmt.Println(traceID, err)
	for deadline := time.Now().Add(5 * time.Second); len(exp.GetSpans()) < 1 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	s := exp.GetSpans()[0]
	fmt.Println(s.Name, s.SpanKind, "parent", s.Parent.SpanID())
	// Output:
	// 4bf92f3577b34da6a3ce929d0e0e4736 <nil>
	// whoami server parent 00f067aa0ba902b7
}

// Log with the handler's context, through LogHandler: the records carry the
// trace and span ids.
func ExampleLogHandler() {
	logger := slog.New(otelrpc.LogHandler(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey { // for a stable output
				return slog.Attr{}
			}
			return a
		},
	})))
	// In a handler under Middleware, ctx is the handler's context; here a
	// span context made by hand.
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))

	logger.InfoContext(ctx, "order placed", "id", 42)
	logger.Info("no context, no ids")
	// Output:
	// level=INFO msg="order placed" id=42 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7
	// level=INFO msg="no context, no ids"
}
