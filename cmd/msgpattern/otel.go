package main

// OpenTelemetry tracing, set up from the standard environment variables.
// Everything that exports spans lives here, in the command: packages rpc
// and otelrpc never import an exporter, so programs that import only them
// do not link one.
//
// Tracing is on when OTEL_TRACES_EXPORTER is set to something other than
// "none", or when an OTLP endpoint is (OTEL_EXPORTER_OTLP_ENDPOINT,
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), unless OTEL_SDK_DISABLED=true.
// Otherwise the commands install nothing: no provider, no propagator, no
// middleware, no wrapper.
//
//	OTEL_TRACES_EXPORTER          otlp, console or none: autoexport's rules (otlp when only an endpoint is set)
//	OTEL_EXPORTER_OTLP_*          the OTLP exporter's endpoint, protocol (http/protobuf, grpc), headers…
//	OTEL_SERVICE_NAME             service.name (default "msgpattern"); OTEL_RESOURCE_ATTRIBUTES too
//	OTEL_TRACES_SAMPLER(_ARG)     read by sdktrace.NewTracerProvider itself (parentbased_always_on by default)
//	OTEL_PROPAGATORS              autoprop's: tracecontext,baggage by default; b3, jaeger, xray, none…
//	OTEL_BSP_*                    the batch span processor's (not for console, whose spans are written as they end)
//
// The console exporter writes one JSON object a line: on stdout for serve
// (as autoexport's does), on stderr for send, emit and bench, whose stdout
// is their output (a reply to pipe into jq, a summary).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/msgpattern/msgpattern/otelrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// tracingShutdownTimeout bounds the flush of the spans still buffered when
// a command exits (an OTLP collector that does not answer delays the exit
// by this much at most).
const tracingShutdownTimeout = 5 * time.Second

// defaultServiceName is service.name without OTEL_SERVICE_NAME (or a
// service.name in OTEL_RESOURCE_ATTRIBUTES).
const defaultServiceName = "msgpattern"

// tracing is a command's OpenTelemetry tracing. A nil *tracing is tracing
// off: its methods do nothing, and return what they are given.
type tracing struct {
	tp       *sdktrace.TracerProvider
	exporter string           // the exporter's name, for the log
	opts     []otelrpc.Option // the provider and the propagator, for Middleware and WrapCaller
	warn     func(error)
}

// tracingRequested reports whether the environment asks for tracing.
func tracingRequested() bool {
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	switch exp := strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER")); exp {
	case "none":
		return false
	case "":
		return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	}
	return true
}

// startTracing sets tracing up from the environment, and returns nil when
// the environment does not ask for it, or asks for an exporter that cannot
// be made (warn says why: the command then runs untraced). console is where
// the console exporter writes. warn reports OpenTelemetry's errors: a bad
// variable, an export that failed.
func startTracing(console io.Writer, warn func(error)) *tracing {
	if !tracingRequested() {
		return nil
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(warn))
	ctx := context.Background()
	name := os.Getenv("OTEL_TRACES_EXPORTER")
	if name == "" {
		name = "otlp" // an endpoint is set
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	if name == "console" {
		// autoexport's console exporter, but writing to console.
		exp, err = stdouttrace.New(stdouttrace.WithWriter(console))
	} else {
		exp, err = autoexport.NewSpanExporter(ctx)
	}
	if err != nil {
		warn(fmt.Errorf("OTEL_TRACES_EXPORTER=%s: %w; tracing off", name, err))
		return nil
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(defaultServiceName), semconv.ServiceVersion(moduleVersion())),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, over the defaults above
		resource.WithTelemetrySDK())
	if err != nil {
		warn(err) // a partial resource is still used
	}
	if res == nil {
		res = resource.Default()
	}
	// The console exporter is for watching: each span is written as it
	// ends, as the specification wants of it. The others batch.
	processor := sdktrace.WithBatcher(exp)
	if name == "console" {
		processor = sdktrace.WithSyncer(exp)
	}
	// No WithSampler: NewTracerProvider reads OTEL_TRACES_SAMPLER and
	// OTEL_TRACES_SAMPLER_ARG.
	tp := sdktrace.NewTracerProvider(processor, sdktrace.WithResource(res))
	prop := autoprop.NewTextMapPropagator() // OTEL_PROPAGATORS, else tracecontext,baggage
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(prop)
	return &tracing{
		tp:       tp,
		exporter: name,
		// The propagator explicitly: otelrpc replaces a global one that
		// propagates nothing, which is what OTEL_PROPAGATORS=none asks for.
		opts: []otelrpc.Option{otelrpc.WithTracerProvider(tp), otelrpc.WithPropagators(prop)},
		warn: warn,
	}
}

// warnStderr reports an OpenTelemetry error of send, emit or bench.
func warnStderr(err error) {
	fmt.Fprintln(os.Stderr, "msgpattern: opentelemetry:", err)
}

// shutdown flushes the spans still buffered, for tracingShutdownTimeout at
// most, and stops the provider.
func (t *tracing) shutdown() {
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), tracingShutdownTimeout)
	defer cancel()
	if err := t.tp.Shutdown(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("spans not exported within %s: %w", tracingShutdownTimeout, err)
		}
		t.warn(err)
	}
}

// serve traces srv: a span per request and event (otelrpc.Middleware).
func (t *tracing) serve(srv *rpc.Server) {
	if t != nil {
		srv.Use(otelrpc.Middleware(t.opts...))
	}
}

// wrap returns c with a span per call, whose trace context goes in the
// request's metadata (otelrpc.WrapCaller).
func (t *tracing) wrap(c caller) caller {
	if t == nil {
		return c
	}
	opts := t.opts
	if _, ok := c.(*natsCaller); ok { // WrapCaller knows *rpc.Client only
		opts = append(opts[:len(opts):len(opts)], otelrpc.WithAttributes(otelrpc.TransportKey.String("nats")))
	}
	return tracedCaller{otelrpc.WrapCaller(c, opts...), c}
}

// tracedCaller is a traced Caller with the Close of the client it wraps.
type tracedCaller struct {
	rpc.Caller
	io.Closer
}
