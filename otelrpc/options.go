package otelrpc

import (
	"reflect"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans this package makes:
// the name its tracer is obtained under.
const ScopeName = "github.com/msgpattern/msgpattern/otelrpc"

// An Option configures [Middleware] and [WrapCaller].
type Option func(*config)

type config struct {
	provider   trace.TracerProvider
	propagator propagation.TextMapPropagator
	attrs      []attribute.KeyValue
}

// WithTracerProvider sets the provider spans are created with. The default
// is the global one, otel.GetTracerProvider() (a no-op until the program
// sets one with otel.SetTracerProvider; spans started before then are not
// recorded, those started after are).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.provider = tp }
}

// WithPropagators sets how trace context travels in a message's metadata
// (and is read from NATS headers). The default is the global propagator,
// otel.GetTextMapPropagator(), when the program has set one; otherwise —
// the global propagator is a no-op until set, which would propagate
// nothing — W3C Trace Context and W3C Baggage
// (propagation.TraceContext{} and propagation.Baggage{}), what NestJS
// instrumentation and OpenTelemetry's default OTEL_PROPAGATORS use. The
// choice is made when Middleware or WrapCaller is called: set the global
// propagator before.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.propagator = p }
}

// WithAttributes adds attrs to every span, for instance the peer service's
// name, or msgpattern.transport on a client that is not an *rpc.Client.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return func(c *config) { c.attrs = append(c.attrs, attrs...) }
}

// defaultPropagator is what WithPropagators documents as the default when
// the global propagator is unset.
var defaultPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// isUnsetGlobal reports whether p is the global propagator of a program
// that never set one: OpenTelemetry's delegating no-op, of the unexported
// type *global.textMapPropagator. Once set, otel.GetTextMapPropagator
// returns the propagator set, even one that propagates nothing (an empty
// composite: OTEL_PROPAGATORS=none), which is honoured. A test pins it.
func isUnsetGlobal(p propagation.TextMapPropagator) bool {
	t := reflect.TypeOf(p)
	return t != nil && t.Kind() == reflect.Pointer &&
		t.Elem().PkgPath() == "go.opentelemetry.io/otel/internal/global" && t.Elem().Name() == "textMapPropagator"
}

// resolved is a config with its defaults applied and its tracer made.
type resolved struct {
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	attrs      []attribute.KeyValue
}

func newResolved(opts []Option) *resolved {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.provider == nil {
		c.provider = otel.GetTracerProvider()
	}
	if c.propagator == nil {
		c.propagator = otel.GetTextMapPropagator()
		if isUnsetGlobal(c.propagator) { // never set: the global no-op
			c.propagator = defaultPropagator
		}
	}
	return &resolved{
		tracer:     c.provider.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL)),
		propagator: c.propagator,
		attrs:      c.attrs,
	}
}
