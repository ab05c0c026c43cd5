// Package otelrpc traces msgpattern servers and clients with
// OpenTelemetry, and carries the trace across NestJS services: a span per
// message served ([Middleware]) and per call made ([WrapCaller]), the
// trace context travelling as W3C Trace Context (traceparent, tracestate)
// in the NestJS 12 packet metadata, where a NestJS 12 ClientProxy's
// dispatch hook puts it and a NestJS 12 server's RpcContext reads it.
//
// Package rpc does not depend on OpenTelemetry; this package is the
// bridge, as prommetrics is for Prometheus. A server without the
// middleware and a client that is not wrapped run exactly as before.
//
//	otel.SetTracerProvider(tp)                                      // the SDK's, with an exporter
//	otel.SetTextMapPropagator(propagation.TraceContext{})           // optional: the default below
//
//	srv := rpc.NewServer(cfg, logger)
//	srv.Use(otelrpc.Middleware())                                   // a span per request and event
//
//	client, _ := rpc.NewClient("orders:4000")                      // or natsrpc.Dial(url)
//	orders := otelrpc.WrapCaller(client)                            // a span per call, traceparent sent
//	receipt, err := rpc.Call[Order, Receipt](ctx, orders, "checkout", order)
//
// # Spans
//
// Every span is named after the route key of its pattern ("sum",
// {"cmd":"sum","role":"math"}), the key the handler was registered under.
//
//	made by                  kind      covers
//	Middleware, a request    server    the handler, from its start to its return: for a stream, every value
//	Middleware, an event     consumer  the event's handler
//	WrapCaller Send          client    the call, retries included, until the reply (or error)
//	WrapCaller Stream        client    the iteration: from the request sent to the last value, an error, or the caller's break
//	WrapCaller Emit          producer  writing the event
//
// A server span is the child of the trace context the message carries, so
// a call made through WrapCaller from a process and served under
// Middleware in another is one trace: client span, then server span. An
// event's consumer span is the child of the producer span of its Emit. A
// message without trace context starts a new trace. A handler retried by
// the server (rpc.Config.RetryAttempts) has a span per attempt.
//
// # Attributes
//
// After OpenTelemetry's semantic conventions for RPC (the version this
// package's tracer declares as its schema, semconv 1.43.0):
//
//	rpc.system.name           "nestjs" (SystemName): the protocol, which NestJS and msgpattern both speak
//	rpc.method                the route key
//	msgpattern.transport      "tcp" or "nats" (TransportKey); on a client span only for an *rpc.Client (else WithAttributes)
//	network.transport         "tcp", for the TCP transport ("unix" on a server served on a Unix socket)
//	network.peer.address/port the caller's address, when the transport knows it (TCP)
//	msgpattern.outcome        "ok", "error", or "abandoned" for a client stream stopped early (OutcomeKey)
//	msgpattern.stream.values  values a client stream received (StreamValuesKey)
//	error.type                on an error: its kind, below
//	rpc.response.status_code  on an error: the NestJS status of the error reply ("error", or an RpcException object's status, "400")
//
// A span that ends in an error also has status Error, with the error's
// text, and an exception event. A request whose reply was complete before
// its handler's error or panic came back (an inner middleware's, after a
// unary handler answered) ends "ok", as its caller and the server's error
// counts see it, the error kept as an exception event. The server's error
// kinds are those of the
// server's metrics (prommetrics' msgpattern_errors_total{kind}): rpc (an
// *rpc.Error, NestJS's RpcException), decode (the data did not decode
// into a typed handler's input), encode (the handler's reply did not
// encode), timeout (the deadline passed, also when
// the handler returned late without error: the caller got the timeout
// reply), canceled (the caller went away, or the server shut down), panic
// and handler (any other error, a downstream "no handler" forwarded
// included: the caller gets "Internal server error"). A client's: remote
// (an error reply, an *rpc.Error), no_handler (rpc.ErrNoHandler),
// timeout, canceled, connection_lost, client_closed, unavailable
// (rpc.ErrUnavailable: not delivered), panic (the call panicked, or a
// Stream's loop body did) and _OTHER.
//
// # Propagation
//
// The server reads the trace context with the propagator from
// [WithPropagators] from two places: the request's NestJS 12 metadata
// (rpc.Request.Metadata: string values; keys matched exactly, then
// regardless of case) and, over NATS, the message's headers
// (rpc.Request.Header), which other NATS instrumentation uses. When both
// carry one, the metadata wins. The client writes it to the metadata only
// (rpc.WithMetadata, merged with the call's own metadata), which every
// msgpattern transport carries and which NestJS 10 and 11 servers ignore.
//
// The default propagator is the global one when the program has set one
// (otel.SetTextMapPropagator), and W3C Trace Context plus W3C Baggage when
// it has not: OpenTelemetry's global propagator is a no-op until set, and
// tracing that propagates nothing by default would surprise. It is chosen
// when Middleware or WrapCaller is called.
//
// # Logs
//
// [LogHandler] wraps a slog.Handler so that records logged with a traced
// context (slog.InfoContext(ctx, …) in a handler) carry trace_id and
// span_id, which log backends use to link logs to traces.
//
// # Cost
//
// Nothing, without the middleware and the wrapper: package rpc is
// unchanged. With them, a span per message and per call, the metadata of
// a traced request decoded, and the traceparent encoded in every call's
// packet. BenchmarkRoundTrip measures a TCP round trip with and without
// them.
package otelrpc
