package otelrpc

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// The keys LogHandler adds.
const (
	TraceIDKey = "trace_id"
	SpanIDKey  = "span_id"
)

// LogHandler returns a handler that adds trace_id and span_id (hex, as in
// a traceparent) to every record logged with a context that carries a
// span — a handler's context under [Middleware], or a span started from
// it — and passes the record to h. Records logged without one pass
// unchanged. Log with the context for it to work:
//
//	logger := slog.New(otelrpc.LogHandler(slog.NewJSONHandler(os.Stderr, nil)))
//	…
//	logger.InfoContext(ctx, "order placed", "id", id)
//
// Within a group (Logger.WithGroup) the two keys are in the group, as
// every attribute of the record is.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ h slog.Handler }

func (l logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return l.h.Enabled(ctx, level)
}

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone() // the caller's record may share its attributes
		r.AddAttrs(slog.String(TraceIDKey, sc.TraceID().String()), slog.String(SpanIDKey, sc.SpanID().String()))
	}
	return l.h.Handle(ctx, r)
}

func (l logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{l.h.WithAttrs(attrs)}
}

func (l logHandler) WithGroup(name string) slog.Handler {
	return logHandler{l.h.WithGroup(name)}
}
