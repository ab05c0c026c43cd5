package otelrpc_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// exportOverOTLP sends each span, one batch each, to an OTLP/HTTP
// collector that accepts everything, and fails the test for every batch
// the exporter refuses (OTLP's protobuf refuses strings that are not
// UTF-8, failing the whole batch).
func exportOverOTLP(t *testing.T, ctx context.Context, spans ...tracetest.SpanStub) {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer hs.Close()
	otlp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(hs.URL+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	defer otlp.Shutdown(context.Background())
	for _, s := range spans {
		if err := otlp.ExportSpans(ctx, tracetest.SpanStubs{s}.Snapshots()); err != nil {
			t.Errorf("OTLP export of the %s span %q: %v", s.SpanKind, s.Name, err)
		}
	}
}
