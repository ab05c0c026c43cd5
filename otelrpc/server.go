package otelrpc

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/msgpattern/msgpattern/rpc"
)

// Middleware returns an [rpc.Middleware] that makes a span for every
// request (kind server) and every event (kind consumer) its handlers
// serve, named after the route key, as a child of the trace context the
// message carries: in its NestJS 12 metadata ([rpc.Request.Metadata]) and,
// over NATS, in its headers ([rpc.Request.Header]); the metadata wins when
// both carry one. The handler's context carries the span: spans started
// from it, calls made through [WrapCaller] with it, and records logged with
// it through [LogHandler] belong to the trace.
//
// Install it on the server, first so that its span covers the other
// middleware:
//
//	srv.Use(otelrpc.Middleware())
//
// The span ends when the handler returns: for a stream, after its last
// value. Each retry of a handler (rpc.Config.RetryAttempts) is a span of
// its own, under the same parent.
func Middleware(opts ...Option) rpc.Middleware {
	rc := newResolved(opts)
	return func(next rpc.Handler) rpc.Handler {
		return rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
			return rc.serve(ctx, next, w, r)
		})
	}
}

func (rc *resolved) serve(ctx context.Context, next rpc.Handler, w rpc.ResponseWriter, r *rpc.Request) error {
	parent := ctx
	if h := r.Header(); len(h) > 0 {
		parent = rc.propagator.Extract(parent, headerCarrier(h))
	}
	if md := r.Metadata(); len(md) > 0 {
		parent = rc.propagator.Extract(parent, metadataCarrier(md))
	}
	kind := trace.SpanKindServer
	if r.IsEvent() {
		kind = trace.SpanKindConsumer
	}
	attrs := make([]attribute.KeyValue, 0, 4+len(rc.attrs))
	route := validText(r.Route)
	attrs = append(attrs, systemAttr, semconv.RPCMethod(route))
	attrs = serverTransportAttrs(attrs, r.Transport(), r.RemoteAddr())
	attrs = append(attrs, rc.attrs...)
	hctx, span := rc.tracer.Start(parent, route, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))

	returned := false
	defer func() {
		if returned {
			return
		}
		// A panic (or runtime.Goexit) on its way up: the span records it,
		// with the value's text, and the panic goes on to the server (the
		// handler's frames are still on the stack it logs).
		v := recover()
		perr := errors.New("handler panicked") // runtime.Goexit: no value
		if v != nil {
			perr = fmt.Errorf("handler panic: %v", v)
		}
		switch {
		case r.TimedOut():
			// As the metrics count it: the caller got the timeout reply.
			rc.endServer(span, r, kindTimeout, statusErrorAttr)
			recordError(span, perr)
		case r.Answered():
			// The reply was complete: the caller has it, and the server
			// counts no panic.
			rc.endServer(span, r, "", attribute.KeyValue{})
			recordException(span, perr)
		default:
			rc.endServer(span, r, kindPanic, statusErrorAttr)
			recordError(span, perr)
		}
		span.End()
		if v != nil {
			panic(v)
		}
	}()
	err := next.ServeMessage(hctx, w, r)
	returned = true

	spanErr := err
	// The caller got the timeout reply: not merely a context past its
	// deadline, as a reply sent in time stands however late the handler
	// (or an inner middleware) returns.
	late := r.TimedOut()
	if err == nil && late {
		spanErr = context.DeadlineExceeded
	}
	if spanErr == nil {
		rc.endServer(span, r, "", attribute.KeyValue{})
	} else if !late && r.Answered() {
		// The reply was complete before the error came back (an inner
		// middleware's, after a unary handler answered): the caller has
		// the value, and the server drops the error. The span follows the
		// reply; the error is kept as an event.
		rc.endServer(span, r, "", attribute.KeyValue{})
		recordException(span, spanErr)
	} else if late {
		// Past the deadline the caller got the timeout reply, whatever the handler returned.
		rc.endServer(span, r, kindTimeout, statusErrorAttr)
		recordError(span, spanErr)
	} else {
		kind, status := classifyServerError(ctx, spanErr)
		rc.endServer(span, r, kind, status)
		recordError(span, spanErr)
	}
	span.End()
	return err
}

// classifyServerError is serverErrorKind and serverStatusCode of err,
// whose methods (Is, As, Unwrap) are the application's: examining one
// that panics, as a typed nil may (a nil *rpc.Error from a validation
// helper), gives the kind the server counts for it, panic, rather than
// panic past the span's end.
func classifyServerError(ctx context.Context, err error) (kind string, status attribute.KeyValue) {
	defer func() {
		if recover() != nil {
			kind, status = kindPanic, statusErrorAttr
		}
	}()
	return serverErrorKind(ctx, err), serverStatusCode(err)
}

// endServer sets the attributes known at the end, in one call: the peer's
// address, the outcome and, when errKind is set, the error's kind and
// status code.
func (rc *resolved) endServer(span trace.Span, r *rpc.Request, errKind string, status attribute.KeyValue) {
	if !span.IsRecording() {
		return
	}
	var buf [5]attribute.KeyValue
	attrs := appendPeerAttrs(buf[:0], r.RemoteAddr())
	if errKind == "" {
		attrs = append(attrs, okAttr)
	} else {
		attrs = append(attrs, errorAttr, semconv.ErrorTypeKey.String(errKind), status)
	}
	span.SetAttributes(attrs...)
}
