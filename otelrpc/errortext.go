package otelrpc

import (
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/msgpattern/msgpattern/internal/textclip"
)

// maxErrorText bounds an error's text in a span. An error may quote what a
// peer sent (a decode error quotes the input, up to a frame's size), and a
// span outlives its request in the exporter's queue.
const maxErrorText = 1024

// recordError records err as span.RecordError does (an exception event)
// and sets the span's status to it, its text cut to maxErrorText.
func recordError(span trace.Span, err error) {
	span.SetStatus(codes.Error, recordException(span, err))
}

// recordException adds err's exception event to span, its text cut to
// maxErrorText, and returns that text. The span's status is left as it is.
func recordException(span trace.Span, err error) string {
	// fmt calls Error under a recover of its own: a typed nil whose
	// Error needs a value prints "<nil>" rather than panic.
	msg := clipText(fmt.Sprint(err), maxErrorText)
	span.AddEvent(semconv.ExceptionEventName, trace.WithAttributes(
		semconv.ExceptionTypeKey.String(errorTypeName(err)), semconv.ExceptionMessage(msg)))
	return msg
}

// clipText is s made valid UTF-8 (each invalid sequence as U+FFFD) and
// cut to max bytes. Text a peer chose may be any bytes (a NATS reply is
// not sanitized, and a remote error's non-string status or message is
// kept as raw JSON), and OTLP's protobuf encoding refuses a string that
// is not UTF-8: the exporter would drop the whole batch, other requests'
// spans with it.
func clipText(s string, max int) string {
	return textclip.Clip(validText(s), max)
}

// validText is s made valid UTF-8, each invalid sequence as U+FFFD (as
// Node.js decodes it). A route key may be any bytes (rpc takes them): a
// span's name and rpc.method go through it, for the reason clipText says.
func validText(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, string(utf8.RuneError))
	}
	return s
}

// errorTypeName names err's type as the OpenTelemetry SDK's RecordError
// does.
func errorTypeName(err error) string {
	t := reflect.TypeOf(err)
	if t.PkgPath() == "" && t.Name() == "" {
		return t.String()
	}
	return fmt.Sprintf("%s.%s", t.PkgPath(), t.Name())
}
