package otelrpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/msgpattern/msgpattern/rpc"
)

// The attributes of this package's own, beside OpenTelemetry's RPC
// semantic conventions.
const (
	// TransportKey is the msgpattern transport a message came by or was
	// sent over: "tcp" or "nats" ([rpc.Request.Transport]).
	TransportKey = attribute.Key("msgpattern.transport")
	// OutcomeKey is how the call or message ended: "ok", "error", or, for
	// a client stream the caller stopped reading, "abandoned".
	OutcomeKey = attribute.Key("msgpattern.outcome")
	// StreamValuesKey is how many values a client stream received.
	StreamValuesKey = attribute.Key("msgpattern.stream.values")
)

// SystemName is the value of rpc.system.name on every span: the NestJS
// microservices protocol, which both sides speak whether they are NestJS
// or msgpattern.
const SystemName = "nestjs"

// The outcomes.
const (
	outcomeOK        = "ok"
	outcomeError     = "error"
	outcomeAbandoned = "abandoned"
)

var (
	systemAttr      = semconv.RPCSystemNameKey.String(SystemName)
	okAttr          = OutcomeKey.String(outcomeOK)
	errorAttr       = OutcomeKey.String(outcomeError)
	tcpAttrs        = []attribute.KeyValue{TransportKey.String("tcp"), semconv.NetworkTransportTCP}
	natsAttr        = TransportKey.String("nats")
	statusErrorAttr = semconv.RPCResponseStatusCode("error")
)

// transportAttrs appends the transport of a message served, as
// msgpattern.transport, and network.transport when it is TCP.
func transportAttrs(dst []attribute.KeyValue, transport string) []attribute.KeyValue {
	switch transport {
	case "":
	case "tcp":
		dst = append(dst, tcpAttrs...)
	case "nats":
		dst = append(dst, natsAttr)
	default:
		dst = append(dst, TransportKey.String(validText(transport)))
	}
	return dst
}

// serverTransportAttrs appends the transport attributes of a message
// served: those of transportAttrs, network.transport "unix" rather than
// "tcp" when rpc's TCP transport is served on a Unix domain socket
// (Server.Serve takes any listener).
func serverTransportAttrs(dst []attribute.KeyValue, transport string, addr net.Addr) []attribute.KeyValue {
	if _, ok := addr.(*net.UnixAddr); ok && transport == "tcp" {
		return append(dst, tcpAttrs[0], semconv.NetworkTransportUnix)
	}
	return transportAttrs(dst, transport)
}

// appendPeerAttrs appends network.peer.address and network.peer.port for
// addr (nothing for nil).
func appendPeerAttrs(dst []attribute.KeyValue, addr net.Addr) []attribute.KeyValue {
	switch a := addr.(type) {
	case nil:
		return dst
	case *net.TCPAddr:
		return append(dst, semconv.NetworkPeerAddressKey.String(a.IP.String()), semconv.NetworkPeerPortKey.Int(a.Port))
	}
	// Any other address is text the peer may choose (a Unix socket's
	// peer binds any name, a custom transport's address is its own): made
	// valid UTF-8, for the reason clipText says.
	s := validText(addr.String())
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return append(dst, semconv.NetworkPeerAddressKey.String(s))
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return append(dst, semconv.NetworkPeerAddressKey.String(host))
	}
	return append(dst, semconv.NetworkPeerAddressKey.String(host), semconv.NetworkPeerPortKey.Int(p))
}

// The server's error kinds: error.type on a server span. They are the
// kinds of the rpc server's metrics (the kind label of prommetrics'
// msgpattern_errors_total) that a handler's error can have.
const (
	kindRPC      = "rpc"      // an *rpc.Error: the caller sees what the handler chose
	kindDecode   = "decode"   // the request's data did not decode (rpc.Typed and the like)
	kindEncode   = "encode"   // the handler's reply did not encode (ResponseWriter.Send's error, returned)
	kindTimeout  = "timeout"  // the request's deadline passed
	kindCanceled = "canceled" // the caller went away, or the server shut down
	kindPanic    = "panic"    // the handler panicked
	kindHandler  = "handler"  // any other error: the caller sees "Internal server error"
)

// serverErrorKind classifies a handler's error as the rpc server does for
// its metrics; ctx is the request's context.
func serverErrorKind(ctx context.Context, err error) string {
	var re *rpc.Error
	switch {
	case errors.As(err, &re) && isNoHandler(re):
		// A downstream "no handler", forwarded: the server answers
		// "Internal server error" rather than pass it for its own.
		return kindHandler
	case errors.As(err, &re):
		return kindRPC
	case isDecodeError(err):
		return kindDecode
	case hasErrorType(err, "*rpc.encodeError"):
		return kindEncode
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return kindTimeout
	case (errors.Is(err, context.Canceled) || errors.Is(err, rpc.ErrReplyClosed)) && ctx.Err() != nil:
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The reply was closed by the deadline: the caller got the
			// timeout error.
			return kindTimeout
		}
		return kindCanceled
	case errors.Is(err, rpc.ErrCallerGone):
		// As the server counts it, also in the moment before the
		// connection's context ends.
		return kindCanceled
	}
	return kindHandler
}

// isNoHandler reports whether re itself, not its cause, is a received
// "no handler" answer: the server checks only the outermost *rpc.Error, so
// a handler's own error that wraps a downstream no-handler is sent as is.
func isNoHandler(re *rpc.Error) bool {
	own := *re
	own.Cause = nil
	return errors.Is(&own, rpc.ErrNoHandler)
}

// isDecodeError recognises rpc's unexported decode error (the typed
// adapters' "rpc: invalid data for pattern …") by its type's name; a test
// pins it.
func isDecodeError(err error) bool { return hasErrorType(err, "*rpc.decodeError") }

// hasErrorType reports whether err's tree holds an error of the named
// type, as errors.As would find it (Unwrap() error and Unwrap() []error).
func hasErrorType(err error, name string) bool {
	for err != nil {
		if fmt.Sprintf("%T", err) == name {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if hasErrorType(e, name) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// serverStatusCode is the NestJS status of the error reply err produces:
// an *rpc.Error's (the "status" of its payload, or its Status), else
// "error".
func serverStatusCode(err error) attribute.KeyValue {
	var re *rpc.Error
	if !errors.As(err, &re) || isNoHandler(re) {
		return statusErrorAttr
	}
	if re.Payload != nil {
		// A map, not a tagged struct: "status" is an exact name to the
		// NestJS caller reading err.status, where encoding/json would
		// match "Status" too.
		var members map[string]json.RawMessage
		if json.Unmarshal(re.Payload, &members) == nil && len(members["status"]) > 0 {
			status := members["status"]
			var s string
			if json.Unmarshal(status, &s) != nil {
				s = string(status)
			}
			return statusCodeAttr(s)
		}
		return statusErrorAttr
	}
	if re.Status != "" {
		return statusCodeAttr(re.Status)
	}
	return statusErrorAttr
}

// maxStatusText bounds rpc.response.status_code: the status of an error
// value, which a remote peer chooses (a client's received error, or one a
// handler forwards), and which a span holds in the exporter's queue.
const maxStatusText = 256

// statusCodeAttr is rpc.response.status_code for status, cut to
// maxStatusText.
func statusCodeAttr(status string) attribute.KeyValue {
	return semconv.RPCResponseStatusCode(clipText(status, maxStatusText))
}

// The client's error kinds: error.type on a client or producer span.
const (
	kindRemote         = "remote"          // an error reply (an *rpc.Error received)
	kindNoHandler      = "no_handler"      // the remote side has no handler for the pattern, or nobody listens
	kindConnectionLost = "connection_lost" // rpc.ErrConnectionLost
	kindClientClosed   = "client_closed"   // rpc.ErrClientClosed
	kindUnavailable    = "unavailable"     // rpc.ErrUnavailable: the request was not delivered (a dial error)
)

// clientErrorKind classifies a call's error.
func clientErrorKind(err error) string {
	var re *rpc.Error // what a Caller returns for an error reply
	// A request that never left, while the call's context lived (rpc
	// returns the context's own error otherwise): a dial that timed out
	// matches context.DeadlineExceeded too (net's timeout error does), and
	// is no deadline of the call's.
	unsent := errors.Is(err, rpc.ErrUnavailable)
	switch {
	case errors.Is(err, rpc.ErrNoHandler):
		return kindNoHandler
	case errors.As(err, &re):
		return kindRemote
	case errors.Is(err, context.DeadlineExceeded) && !unsent:
		return kindTimeout
	case errors.Is(err, context.Canceled) && !unsent:
		return kindCanceled
	case errors.Is(err, rpc.ErrConnectionLost):
		return kindConnectionLost
	case errors.Is(err, rpc.ErrClientClosed):
		return kindClientClosed
	case errors.Is(err, rpc.ErrUnavailable):
		return kindUnavailable
	}
	return semconv.ErrorTypeOther.Value.AsString()
}
