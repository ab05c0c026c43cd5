package main

// Tracing from the OpenTelemetry environment (otel.go): serve, send, emit
// and bench with the console exporter, the trace going across processes;
// and nothing at all without the environment.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// consoleSpan is what the console exporter (stdouttrace) writes of a span.
type consoleSpan struct {
	Name        string
	SpanContext spanContext
	Parent      spanContext
	SpanKind    trace.SpanKind
	Attributes  []keyValue
	Resource    []keyValue
}

type spanContext struct {
	TraceID, SpanID string
	Remote          bool
}

type keyValue struct {
	Key   string
	Value struct{ Value any }
}

func (s consoleSpan) String() string {
	return fmt.Sprintf("%s span %q trace %s span %s parent %s", s.SpanKind, s.Name, s.SpanContext.TraceID, s.SpanContext.SpanID, s.Parent.SpanID)
}

// attr is the value of the attribute key, nil when absent.
func attr(kvs []keyValue, key string) any {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value.Value
		}
	}
	return nil
}

// consoleSpans are the spans in out: its lines that are JSON objects with
// a span context. The other lines (logs, replies) are skipped.
func consoleSpans(out string) []consoleSpan {
	var spans []consoleSpan
	for line := range strings.Lines(out) {
		var s consoleSpan
		if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &s) == nil && s.SpanContext.TraceID != "" {
			spans = append(spans, s)
		}
	}
	return spans
}

// onlySpan is the one span of kind in out.
func onlySpan(t *testing.T, out string, kind trace.SpanKind) consoleSpan {
	t.Helper()
	var found []consoleSpan
	for _, s := range consoleSpans(out) {
		if s.SpanKind == kind {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s span, got %v in:\n%s", kind, found, out)
	}
	return found[0]
}

// childOf waits until serve has printed a span of kind whose parent is
// the span parent of another process, and returns it.
func childOf(t *testing.T, serve *proc, parent consoleSpan, kind trace.SpanKind) consoleSpan {
	t.Helper()
	var child consoleSpan
	serve.poll(t, fmt.Sprintf("a %s span, child of %v", kind, parent), func() bool {
		for _, s := range consoleSpans(serve.stderr.String()) {
			if s.SpanKind == kind && s.Parent.SpanID == parent.SpanContext.SpanID {
				child = s
				return true
			}
		}
		return false
	})
	if child.SpanContext.TraceID != parent.SpanContext.TraceID || child.Parent.TraceID != parent.SpanContext.TraceID ||
		!child.Parent.Remote || child.Name != parent.Name {
		t.Errorf("%v is not in the trace of %v", child, parent)
	}
	return child
}

// TestTracingConsole: with OTEL_TRACES_EXPORTER=console, send, emit and
// bench print their client (producer) spans on stderr, serve prints on
// stdout a server (consumer) span for each, in the same trace: the
// traceparent went in the requests' metadata, over TCP and over NATS.
func TestTracingConsole(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGTERM")
	}
	console := []string{"OTEL_TRACES_EXPORTER=console"}
	serve := startProcEnv(t, console, "serve", "--addr", "127.0.0.1:0", "--nats-server", "127.0.0.1:0")
	natsURL := serve.waitFor(t, `(?m)^nats server listening on (nats://127\.0\.0\.1:[0-9]+)$`)
	addr := serve.waitFor(t, `serving the demo patterns on (127\.0\.0\.1:[0-9]+);`)
	serve.waitFor(t, `msg="tracing with OpenTelemetry" exporter=console`)

	t.Run("send", func(t *testing.T) {
		r := runCLI(t, invocation{args: []string{"send", "--addr", addr, "sum", "[1,2]"}, env: console})
		if r.code != 0 || r.stdout != "3\n" { // the spans stay off stdout, which is the reply's
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		client := onlySpan(t, r.stderr, trace.SpanKindClient)
		if client.Name != "sum" || client.Parent.SpanID != "0000000000000000" ||
			attr(client.Attributes, "msgpattern.transport") != "tcp" || attr(client.Resource, "service.name") != "msgpattern" {
			t.Errorf("send's span: %+v", client)
		}
		server := childOf(t, serve, client, trace.SpanKindServer)
		if attr(server.Attributes, "rpc.method") != "sum" || attr(server.Attributes, "msgpattern.outcome") != "ok" {
			t.Errorf("serve's span: %+v", server)
		}
	})

	t.Run("send with OTEL_SERVICE_NAME and an error reply", func(t *testing.T) {
		r := runCLI(t, invocation{args: []string{"send", "--addr", addr, "fail"}, env: append(console, "OTEL_SERVICE_NAME=checkout")})
		if r.code != exitRemote || r.stdout != "" || !strings.Contains(r.stderr, "\nerror: {\n") {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		client := onlySpan(t, r.stderr, trace.SpanKindClient)
		if attr(client.Resource, "service.name") != "checkout" || attr(client.Attributes, "error.type") != "remote" {
			t.Errorf("send's span: %+v", client)
		}
		server := childOf(t, serve, client, trace.SpanKindServer)
		if attr(server.Attributes, "error.type") != "rpc" {
			t.Errorf("serve's span: %+v", server)
		}
	})

	t.Run("emit", func(t *testing.T) {
		r := runCLI(t, invocation{args: []string{"emit", "--addr", addr, "evt", `"traced"`}, env: console})
		if r.code != 0 || r.stdout != "" {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		childOf(t, serve, onlySpan(t, r.stderr, trace.SpanKindProducer), trace.SpanKindConsumer)
	})

	t.Run("send over NATS", func(t *testing.T) {
		r := runCLI(t, invocation{args: []string{"send", "--nats", natsURL, "ping"}, env: console})
		if r.code != 0 || r.stdout != "\"pong\"\n" {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		client := onlySpan(t, r.stderr, trace.SpanKindClient)
		if attr(client.Attributes, "msgpattern.transport") != "nats" {
			t.Errorf("send's span: %+v", client)
		}
		server := childOf(t, serve, client, trace.SpanKindServer)
		if attr(server.Attributes, "msgpattern.transport") != "nats" {
			t.Errorf("serve's span: %+v", server)
		}
	})

	for _, over := range [][]string{{"--addr", addr}, {"--nats", natsURL}} {
		t.Run("bench "+over[0], func(t *testing.T) {
			args := append(append([]string{"bench"}, over...), "-c", "2", "-p", "2", "-n", "20", "--json", "sum", "[1,2]")
			r := runCLI(t, invocation{args: args, env: console})
			var summary struct{ Requests, Errors int }
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &summary) != nil || summary.Requests != 20 || summary.Errors != 0 {
				t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			var clients []consoleSpan
			for _, s := range consoleSpans(r.stderr) {
				if s.SpanKind == trace.SpanKindClient {
					clients = append(clients, s)
				}
			}
			// 20 measured; bench may have started a few more by the end.
			if len(clients) < 20 {
				t.Fatalf("%d client spans, want one a request (20):\n%s", len(clients), r.stderr)
			}
			for _, c := range clients[:3] {
				childOf(t, serve, c, trace.SpanKindServer)
			}
		})
	}

	serve.stop(t)
}

var benchProgress = regexp.MustCompile(`(?m)^\S+  \d+/\d+ requests \(\d+%\)  \d+ errors  \d+ req/s\n`)

// TestTracingOff: without OTEL_TRACES_EXPORTER or an OTLP endpoint — or
// with OTEL_TRACES_EXPORTER=none, or OTEL_SDK_DISABLED=true — nothing
// about traces is printed, and nothing is sent.
func TestTracingOff(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGTERM")
	}
	for _, env := range [][]string{nil, {"OTEL_TRACES_EXPORTER=none", "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:1"},
		{"OTEL_SDK_DISABLED=true", "OTEL_TRACES_EXPORTER=console"}, {"OTEL_SERVICE_NAME=x", "OTEL_TRACES_SAMPLER=always_on", "OTEL_PROPAGATORS=b3"}} {
		t.Run(fmt.Sprint(env), func(t *testing.T) {
			serve := startProcEnv(t, env, "serve", "--addr", "127.0.0.1:0")
			addr := serve.waitFor(t, `serving the demo patterns on (127\.0\.0\.1:[0-9]+);`)
			want{stdout: "3\n"}.check(t, runCLI(t, invocation{args: []string{"send", "--addr", addr, "sum", "[1,2]"}, env: env}))
			want{}.check(t, runCLI(t, invocation{args: []string{"emit", "--addr", addr, "evt", "1"}, env: env}))
			r := runCLI(t, invocation{args: []string{"bench", "--addr", addr, "-n", "50", "--json", "sum", "[1]"}, env: env})
			// bench prints a progress line a second to a non-terminal
			// stderr: a loaded machine may take that long for 50 calls.
			if stderr := benchProgress.ReplaceAllString(r.stderr, ""); r.code != 0 || stderr != "" {
				t.Errorf("bench: exit %d, stderr %q", r.code, r.stderr)
			}
			serve.stop(t)
			out := serve.stderr.String()
			for _, word := range []string{"Trace", "trace", "Span", "span", "telemetry"} {
				if strings.Contains(out, word) {
					t.Errorf("serve printed %q:\n%s", word, out)
				}
			}
		})
	}
}

// TestTracingExportBounded: spans that cannot be exported (no OTLP
// collector) delay the exit by tracingShutdownTimeout at most, and are
// reported; the command's own result is unchanged.
func TestTracingExportBounded(t *testing.T) {
	ts := startServer(t)
	for _, proto := range []string{"http/protobuf", "grpc"} {
		t.Run(proto, func(t *testing.T) {
			start := time.Now()
			r := runCLI(t, invocation{args: []string{"send", "--addr", ts.addr, "sum", "[1,2]"},
				env: []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + freeAddr(t), "OTEL_EXPORTER_OTLP_PROTOCOL=" + proto}})
			if took := time.Since(start); took > tracingShutdownTimeout+5*time.Second {
				t.Errorf("send took %s", took)
			}
			want{stdout: "3\n", stderrRE: `^(msgpattern: opentelemetry: .*\n)+$`}.check(t, r)
		})
	}
	t.Run("unknown exporter", func(t *testing.T) {
		want{stdout: "3\n", stderrRE: `^msgpattern: opentelemetry: OTEL_TRACES_EXPORTER=zipkin: .*; tracing off\n$`}.check(t,
			runCLI(t, invocation{args: []string{"send", "--addr", ts.addr, "sum", "[1,2]"}, env: []string{"OTEL_TRACES_EXPORTER=zipkin"}}))
	})
}

func TestTracingRequested(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on", "OTEL_PROPAGATORS": "b3"}, false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "console"}, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "none"}, false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "false"}, true},
	} {
		for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
			t.Setenv(k, c.env[k])
		}
		if got := tracingRequested(); got != c.want {
			t.Errorf("%v: tracing %v, want %v", c.env, got, c.want)
		}
	}
}

// TestTracingMetadata: what the traced send puts in the request's
// metadata, which the test server's "meta" handler answers: a traceparent
// by default, OTEL_PROPAGATORS' choice otherwise; and the sampler of
// OTEL_TRACES_SAMPLER.
func TestTracingMetadata(t *testing.T) {
	ts := startServer(t)
	meta := func(env ...string) (map[string]string, result) {
		t.Helper()
		r := runCLI(t, invocation{args: []string{"send", "--addr", ts.addr, "--metadata", "tenant=a", "meta"}, env: env})
		var md map[string]string
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &md) != nil {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		return md, r
	}

	md, r := meta("OTEL_TRACES_EXPORTER=console")
	client := onlySpan(t, r.stderr, trace.SpanKindClient)
	if want := "00-" + client.SpanContext.TraceID + "-" + client.SpanContext.SpanID + "-01"; md["traceparent"] != want || md["tenant"] != "a" {
		t.Errorf("metadata %v, want traceparent %s and tenant a", md, want)
	}

	md, _ = meta("OTEL_TRACES_EXPORTER=console", "OTEL_PROPAGATORS=b3")
	if md["b3"] == "" || md["traceparent"] != "" {
		t.Errorf("OTEL_PROPAGATORS=b3: metadata %v", md)
	}
	md, _ = meta("OTEL_TRACES_EXPORTER=console", "OTEL_PROPAGATORS=none")
	if len(md) != 1 {
		t.Errorf("OTEL_PROPAGATORS=none: metadata %v, want tenant only", md)
	}

	// Not sampled: no span printed, the traceparent says so.
	md, r = meta("OTEL_TRACES_EXPORTER=console", "OTEL_TRACES_SAMPLER=always_off")
	if r.stderr != "" || !strings.HasSuffix(md["traceparent"], "-00") {
		t.Errorf("always_off: metadata %v, stderr %q", md, r.stderr)
	}
	md, r = meta("OTEL_TRACES_EXPORTER=console", "OTEL_TRACES_SAMPLER=traceidratio", "OTEL_TRACES_SAMPLER_ARG=0")
	if r.stderr != "" || !strings.HasSuffix(md["traceparent"], "-00") {
		t.Errorf("traceidratio 0: metadata %v, stderr %q", md, r.stderr)
	}
}
