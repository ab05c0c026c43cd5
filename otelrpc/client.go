package otelrpc

import (
	"context"
	"encoding/json"
	"errors"
	"iter"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/msgpattern/msgpattern/pattern"
	"github.com/msgpattern/msgpattern/rpc"
)

// WrapCaller returns a Caller that calls through c with a span per call —
// kind client for Send and Stream, producer for Emit — named after the
// pattern's route key and a child of the span in the call's context, and
// that sends the span's trace context (traceparent, tracestate) in the
// call's NestJS 12 metadata (rpc.WithMetadata; it is merged with the
// call's own metadata, and wins over a key of the same name). A NestJS 12
// server reads it with TcpContext.getMetadata(), a msgpattern server with
// [Middleware]; NestJS 10 and 11 servers ignore it. It works for any
// Caller: *rpc.Client (TCP) and natsrpc.Client alike.
//
// A Send's span covers the call and its retries (rpc.Idempotent); a
// Stream's covers the iteration, from the request sent to the last value
// (or the caller's break); an Emit's ends when the event is written. A
// call that panics, or a Stream whose loop body panics, ends its span with
// status Error and error.type "panic".
func WrapCaller(c rpc.Caller, opts ...Option) rpc.Caller {
	rc := newResolved(opts)
	tc := &tracedCaller{c: c, rc: rc}
	var buf [8]attribute.KeyValue
	attrs := append(buf[:0], systemAttr)
	if _, ok := c.(*rpc.Client); ok {
		attrs = transportAttrs(attrs, "tcp")
	}
	tc.attrs = append(append([]attribute.KeyValue(nil), attrs...), rc.attrs...)
	return tc
}

type tracedCaller struct {
	c     rpc.Caller
	rc    *resolved
	attrs []attribute.KeyValue // on every span: the system, the transport when known, WithAttributes
}

// Unwrap returns the Caller tc traces, so that rpc.StreamOf finds its
// decoder (rpc.WithDecoder).
func (tc *tracedCaller) Unwrap() rpc.Caller { return tc.c }

// start starts the span of a call to pat and returns the call's options
// with the span's trace context added as metadata. ok is false when pat is
// not a valid pattern: the call fails on its own, untraced.
func (tc *tracedCaller) start(ctx context.Context, pat any, kind trace.SpanKind, opts []rpc.CallOption) (context.Context, trace.Span, []rpc.CallOption, bool) {
	route, err := pattern.Of(pat)
	if err != nil {
		return ctx, nil, opts, false
	}
	route = validText(route)
	attrs := make([]attribute.KeyValue, 0, len(tc.attrs)+1)
	attrs = append(append(attrs, tc.attrs...), semconv.RPCMethod(route))
	ctx, span := tc.rc.tracer.Start(ctx, route, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
	md := make(propagation.MapCarrier, 2)
	tc.rc.propagator.Inject(ctx, md)
	if len(md) > 0 {
		// A copy, with room: the caller's slice is not written to.
		opts = append(opts[:len(opts):len(opts)], rpc.WithMetadata(md))
	}
	return ctx, span, opts, true
}

// end records err (nil: success) on span and ends it.
func end(span trace.Span, err error) {
	if err == nil {
		span.SetAttributes(okAttr)
	} else {
		recordClientError(span, err)
	}
	span.End()
}

func recordClientError(span trace.Span, err error) {
	span.SetAttributes(clientErrorAttrs(err)...)
	recordError(span, err)
}

// clientErrorAttrs are the attributes of a call that failed with err,
// whose methods may be a Caller's or an application's: examining one
// that panics, as a typed nil may (a nil *rpc.Error), gives _OTHER
// rather than panic in the caller's goroutine with the span left open.
func clientErrorAttrs(err error) (attrs []attribute.KeyValue) {
	defer func() {
		if recover() != nil {
			attrs = []attribute.KeyValue{errorAttr, semconv.ErrorTypeOther}
		}
	}()
	attrs = []attribute.KeyValue{errorAttr, semconv.ErrorTypeKey.String(clientErrorKind(err))}
	if re, ok := remoteError(err); ok && re.Status != "" {
		attrs = append(attrs, statusCodeAttr(re.Status))
	}
	return attrs
}

// Send calls pattern through the wrapped Caller, in a client span.
func (tc *tracedCaller) Send(ctx context.Context, pattern any, data any, out any, opts ...rpc.CallOption) error {
	ctx, span, opts, ok := tc.start(ctx, pattern, trace.SpanKindClient, opts)
	if !ok {
		return tc.c.Send(ctx, pattern, data, out, opts...)
	}
	returned := false
	defer endUnlessReturned(span, &returned)
	err := tc.c.Send(ctx, pattern, data, out, opts...)
	returned = true
	end(span, err)
	return err
}

// Emit sends an event through the wrapped Caller, in a producer span.
func (tc *tracedCaller) Emit(ctx context.Context, pattern any, data any, opts ...rpc.CallOption) error {
	ctx, span, opts, ok := tc.start(ctx, pattern, trace.SpanKindProducer, opts)
	if !ok {
		return tc.c.Emit(ctx, pattern, data, opts...)
	}
	returned := false
	defer endUnlessReturned(span, &returned)
	err := tc.c.Emit(ctx, pattern, data, opts...)
	returned = true
	end(span, err)
	return err
}

// endUnlessReturned ends the span of a call that panicked (encoding its
// data, say, or a Stream's loop body) on its way up, which would otherwise
// never be exported, or be exported as a success.
func endUnlessReturned(span trace.Span, returned *bool) {
	if *returned {
		return
	}
	span.SetAttributes(errorAttr, semconv.ErrorTypeKey.String(kindPanic))
	span.SetStatus(codes.Error, "call panicked")
	span.End()
}

// Stream calls pattern through the wrapped Caller; the client span starts
// when iteration starts (when the request is sent) and ends with it.
func (tc *tracedCaller) Stream(ctx context.Context, pattern any, data any, opts ...rpc.CallOption) iter.Seq2[json.RawMessage, error] {
	return func(yield func(json.RawMessage, error) bool) {
		ctx, span, opts, ok := tc.start(ctx, pattern, trace.SpanKindClient, opts)
		if !ok {
			for v, err := range tc.c.Stream(ctx, pattern, data, opts...) {
				if !yield(v, err) {
					return
				}
			}
			return
		}
		var (
			values    int
			failed    error
			abandoned bool
			returned  bool
		)
		defer func() { // also when the call or the loop's body panics
			span.SetAttributes(StreamValuesKey.Int(values))
			switch {
			case !returned:
				endUnlessReturned(span, &returned)
				return
			case failed != nil:
				recordClientError(span, failed)
			case abandoned:
				span.SetAttributes(OutcomeKey.String(outcomeAbandoned))
			default:
				span.SetAttributes(okAttr)
			}
			span.End()
		}()
		for v, err := range tc.c.Stream(ctx, pattern, data, opts...) {
			if err != nil {
				failed = err
			} else {
				values++
			}
			if !yield(v, err) {
				abandoned = err == nil
				break
			}
		}
		if abandoned {
			// rpc.StreamOf stopped on a value that did not decode: a
			// failure, as for rpc.Call, not the caller's choice.
			if f := rpc.CallSettingsOf(opts...).StreamFailure; f != nil && *f != nil {
				failed, abandoned = *f, false
			}
		}
		returned = true
	}
}

func remoteError(err error) (*rpc.Error, bool) {
	var re *rpc.Error
	ok := errors.As(err, &re)
	return re, ok
}
