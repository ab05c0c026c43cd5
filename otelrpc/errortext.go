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
	// fmt calls Error under a recover of its own: a typed nil whose
	// Error needs a value prints "<nil>" rather than panic.
	msg := clipText(fmt.Sprint(err), maxErrorText)
	span.AddEvent(semconv.ExceptionEventName, trace.WithAttributes(
		semconv.ExceptionTypeKey.String(errorTypeName(err)), semconv.ExceptionMessage(msg)))
	span.SetStatus(codes.Error, msg)
}

// clipText is s made valid UTF-8 (each invalid sequence as U+FFFD) and
// cut to max bytes. Text a peer chose may be any bytes (a NATS reply is
// not sanitized, and a remote error's non-string status or message is
// kept as raw JSON), and OTLP's protobuf encoding refuses a string that
// is not UTF-8: the exporter would drop the whole batch, other requests'
// spans with it.
func clipText(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, string(utf8.RuneError))
	}
	return textclip.Clip(s, max)
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
