package main

// These tests build the msgpattern binary once and run it, as a user
// would, against a server started in the test (or, for serve, against the
// binary itself).

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// binary is the msgpattern command built by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "msgpattern-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "msgpattern")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	// Built with -race when the tests are: most of the CLI's code runs in
	// this binary (serve, send, bench, signals), not in the test process.
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building msgpattern:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testServer is an in-process server with a few handlers.
type testServer struct {
	srv    *rpc.Server
	addr   string
	events chan json.RawMessage // data of the "audit" events, in order
	hangs  chan struct{}        // a "hang" request started (when there is room)
}

func startServer(t *testing.T) *testServer { return startTLSServer(t, nil) }

// startTLSServer starts a testServer serving TLS with tlsCfg (none when nil).
func startTLSServer(t *testing.T, tlsCfg *tls.Config) *testServer {
	t.Helper()
	ts := &testServer{events: make(chan json.RawMessage, 16), hangs: make(chan struct{}, 16)}
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, TLSConfig: tlsCfg}, slog.New(slog.DiscardHandler))
	ts.srv = srv
	srv.Handle("sum", rpc.Typed(func(_ context.Context, xs []int) (int, error) {
		total := 0
		for _, x := range xs {
			total += x
		}
		return total, nil
	}))
	srv.Handle(map[string]any{"cmd": "mul", "role": "math"}, rpc.Typed(func(_ context.Context, xs []int) (int, error) {
		p := 1
		for _, x := range xs {
			p *= x
		}
		return p, nil
	}))
	srv.Handle("count3", rpc.Stream(func(_ context.Context, _ json.RawMessage) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			for i := 1; i <= 3 && yield(i, nil); i++ {
			}
		}
	}))
	srv.Handle("fail", rpc.Func(func(json.RawMessage) (any, error) {
		return nil, rpc.NewError("amount must be positive")
	}))
	srv.Handle("echo", rpc.Func(func(data json.RawMessage) (any, error) { return data, nil }))
	srv.Handle("meta", rpc.Typed(func(ctx context.Context, _ json.RawMessage) (map[string]string, error) {
		req, _ := rpc.RequestFromContext(ctx)
		return req.Metadata(), nil
	}))
	srv.Handle("hang", rpc.Typed(func(ctx context.Context, _ json.RawMessage) (any, error) {
		select {
		case ts.hangs <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	srv.HandleEvent("audit", rpc.Event(func(_ context.Context, data json.RawMessage) error {
		ts.events <- append(json.RawMessage(nil), data...)
		return nil
	}))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts.addr = srv.Addr().String()
	return ts
}

// invocation is one run of the binary.
type invocation struct {
	args  []string
	env   []string // added to the environment, which never holds MSGPATTERN_ADDR nor OTEL_* otherwise
	stdin string
}

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, in invocation) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, in.args...)
	cmd.Env = append(environ(), in.env...)
	cmd.Stdin = strings.NewReader(in.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running msgpattern %q: %v", in.args, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// environ is the test's environment without MSGPATTERN_ADDR, nor the
// OpenTelemetry variables (OTEL_*), which would turn tracing on.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MSGPATTERN_ADDR=") && !strings.HasPrefix(kv, "OTEL_") {
			env = append(env, kv)
		}
	}
	return env
}

// freeAddr returns a local address that nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// silentServer listens on a local address, accepts connections and never
// says a word: a server that does not answer, or a NATS server that never
// sends its INFO. Each accepted connection is sent on accepted when there
// is room.
func silentServer(t *testing.T) (addr string, accepted <-chan struct{}) {
	t.Helper()
	ch := make(chan struct{}, 16)
	addr = listenTracked(t, func(net.Conn, func(net.Conn)) {
		select {
		case ch <- struct{}{}:
		default:
		}
	})
	return addr, ch
}

// listenTracked listens on a local address and hands each accepted
// connection to handle, in the accept loop; the accepted connections, and
// any other that handle passes to track, are closed at cleanup.
func listenTracked(t *testing.T, handle func(c net.Conn, track func(net.Conn))) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			track(c)
			handle(c, track)
		}
	}()
	return ln.Addr().String()
}

// check compares a result with what a case wants: an exact stdout (unless
// stdoutRE is set), and stderr matching stderrRE.
type want struct {
	code     int
	stdout   string
	stdoutRE string
	stderrRE string
}

func (w want) check(t *testing.T, r result) {
	t.Helper()
	if r.code != w.code {
		t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, w.code, r.stdout, r.stderr)
	}
	if w.stdoutRE != "" {
		if !regexp.MustCompile(w.stdoutRE).MatchString(r.stdout) {
			t.Errorf("stdout %q does not match %q", r.stdout, w.stdoutRE)
		}
	} else if r.stdout != w.stdout {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, w.stdout)
	}
	if w.stderrRE == "" {
		if r.stderr != "" {
			t.Errorf("stderr %q, want nothing", r.stderr)
		}
	} else if !regexp.MustCompile(w.stderrRE).MatchString(r.stderr) {
		t.Errorf("stderr %q does not match %q", r.stderr, w.stderrRE)
	}
}

func TestSend(t *testing.T) {
	ts := startServer(t)
	dead := freeAddr(t)
	dataFile := filepath.Join(t.TempDir(), "data.json")
	if err := os.WriteFile(dataFile, []byte("[4,\n 5, 6]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := []string{"--addr", ts.addr}
	args := func(a ...string) []string { return append(addr[:len(addr):len(addr)], a...) }

	tests := []struct {
		name string
		in   invocation
		want want
	}{
		{"string pattern", invocation{args: args("sum", "[1,2,3]")},
			want{stdout: "6\n"}},
		{"object pattern", invocation{args: args(`{"cmd":"mul","role":"math"}`, "[2,3,4]")},
			want{stdout: "24\n"}},
		{"object pattern in another key order", invocation{args: args(`{ "role": "math", "cmd": "mul" }`, "[2,3,4]")},
			want{stdout: "24\n"}},
		{"DATA from a file", invocation{args: args("sum", "@"+dataFile)},
			want{stdout: "15\n"}},
		{"DATA from stdin", invocation{args: args("sum", "@-"), stdin: "[10, 20]\n"},
			want{stdout: "30\n"}},
		{"no DATA is null", invocation{args: args("echo")},
			want{stdout: "null\n"}},
		{"reply printed indented", invocation{args: args("echo", `{"a":[1,2],"b":"x"}`)},
			want{stdout: "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": \"x\"\n}\n"}},
		{"negative number DATA", invocation{args: args("echo", "-5")},
			want{stdout: "-5\n"}},
		{"stream of 3 values", invocation{args: args("count3")},
			want{stdout: "1\n2\n3\n"}},
		{"flags after the arguments", invocation{args: []string{"sum", "[1,2]", "--addr", ts.addr}},
			want{stdout: "3\n"}},
		{"metadata", invocation{args: args("--metadata", "tenant=a", "--metadata", "traceparent=00-ab-01", "meta")},
			want{stdout: "{\n  \"tenant\": \"a\",\n  \"traceparent\": \"00-ab-01\"\n}\n"}},
		{"remote error", invocation{args: args("fail", "1")},
			want{code: 1, stderrRE: `^error: \{\n  "status": "error",\n  "message": "amount must be positive"\n\}\n$`}},
		{"unknown pattern", invocation{args: args("nope")},
			want{code: 1, stderrRE: `(?s)^error: "There is no matching message handler defined in the remote service."\nhint: no handler on .* matches this pattern`}},
		{"invalid DATA", invocation{args: args("echo", "hello")},
			want{code: 2, stderrRE: `DATA is not valid JSON .*a string needs quotes: '"hello"'`}},
		{"invalid DATA from stdin", invocation{args: args("echo", "@-"), stdin: "{"},
			want{code: 2, stderrRE: `DATA from stdin is not valid JSON`}},
		{"empty DATA from stdin", invocation{args: args("echo", "@-")},
			want{code: 2, stderrRE: `DATA from stdin is empty`}},
		{"missing DATA file", invocation{args: args("echo", "@"+dataFile+".missing")},
			want{code: 2, stderrRE: `reading DATA: .*missing`}},
		{"invalid object pattern", invocation{args: args(`{"cmd":`)},
			want{code: 2, stderrRE: `PATTERN starts with '\{' but is not a JSON object`}},
		{"no PATTERN", invocation{args: args()},
			want{code: 2, stderrRE: `want PATTERN \[DATA\], got 0 argument\(s\)\nRun 'msgpattern send -h' for usage.\n$`}},
		{"unknown flag", invocation{args: args("--nope", "ping")},
			want{code: 2, stderrRE: `^msgpattern send: flag provided but not defined: --nope\nRun 'msgpattern send -h' for usage.\n$`}},
		{"unknown one-letter flag", invocation{args: args("-x", "ping")},
			want{code: 2, stderrRE: `^msgpattern send: flag provided but not defined: -x\n`}},
		{"flag without its value", invocation{args: args("ping", "--timeout")},
			want{code: 2, stderrRE: `^msgpattern send: flag needs an argument: --timeout\n`}},
		{"negative --timeout", invocation{args: args("--timeout", "-1s", "ping")},
			want{code: 2, stderrRE: `^msgpattern send: invalid value "-1s" for flag --timeout: must not be negative\n`}},
		{"--timeout not a duration", invocation{args: args("--timeout=10", "ping")},
			want{code: 2, stderrRE: `^msgpattern send: invalid value "10" for flag --timeout: want a duration such as 500ms`}},
		{"bad boolean", invocation{args: args("-v=maybe", "ping")},
			want{code: 2, stderrRE: `^msgpattern send: invalid boolean value "maybe" for -v: `}},
		{"event handler", invocation{args: args("audit", `"sent with send"`)},
			want{stderrRE: `^note: audit answered no value: it is an event handler \(it ran, and sends no reply; send events with 'msgpattern emit'\), or a stream that ended empty\n$`}},
		{"unreachable address", invocation{args: []string{"--addr", dead, "sum", "[1]"}},
			want{code: 2, stderrRE: `^msgpattern: send: rpc: dial .*\nhint: is a server listening on ` + regexp.QuoteMeta(dead)}},
		{"timeout", invocation{args: args("--timeout", "200ms", "hang")},
			want{code: 2, stderrRE: `^msgpattern: send: no complete reply from .* within 200ms \(--timeout\)\n$`}},
		{"-v prints the round-trip time", invocation{args: args("-v", "sum", "[1]")},
			want{stdout: "1\n", stderrRE: `^1 value in [0-9.]+(ns|µs|ms|s)\n$`}},
		{"-v counts a stream's values", invocation{args: args("count3", "-v")},
			want{stdout: "1\n2\n3\n", stderrRE: `^3 values in [0-9.]+(ns|µs|ms|s)\n$`}},
		{"MSGPATTERN_ADDR", invocation{args: []string{"sum", "[2,2]"}, env: []string{"MSGPATTERN_ADDR=" + ts.addr}},
			want{stdout: "4\n"}},
		{"--addr beats MSGPATTERN_ADDR", invocation{args: args("sum", "[2,2]"), env: []string{"MSGPATTERN_ADDR=" + dead}},
			want{stdout: "4\n"}},
		{"help", invocation{args: []string{"-h"}},
			want{stdoutRE: `^Usage: msgpattern send \[flags\] PATTERN \[DATA\]\n(?s).*--addr string.*--timeout duration .*\(default 10s\)`}},
		{"--help", invocation{args: []string{"ping", "--help"}},
			want{stdoutRE: `^Usage: msgpattern send \[flags\] PATTERN \[DATA\]\n(?s).*--cacert FILE .*--insecure .*--tls `}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := tt.in
			in.args = append([]string{"send"}, in.args...)
			tt.want.check(t, runCLI(t, in))
		})
	}
}

func TestEmit(t *testing.T) {
	ts := startServer(t)
	dead := freeAddr(t)

	t.Run("reaches the event handler", func(t *testing.T) {
		want{}.check(t, runCLI(t, invocation{args: []string{"emit", "--addr", ts.addr, "audit", `{"id": 7}`}}))
		want{stderrRE: `^sent\n$`}.check(t, runCLI(t, invocation{
			args: []string{"emit", "-v", "audit", "@-"}, stdin: `"second"`, env: []string{"MSGPATTERN_ADDR=" + ts.addr},
		}))
		for _, wantData := range []string{`{"id":7}`, `"second"`} {
			select {
			case got := <-ts.events:
				if string(got) != wantData {
					t.Errorf("event data %s, want %s", got, wantData)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("the event %s did not reach the handler", wantData)
			}
		}
	})
	t.Run("unreachable address", func(t *testing.T) {
		want{code: 2, stderrRE: `^msgpattern: emit: rpc: dial `}.check(t, runCLI(t, invocation{args: []string{"emit", "--addr", dead, "audit"}}))
	})
	t.Run("invalid DATA", func(t *testing.T) {
		want{code: 2, stderrRE: `DATA is not valid JSON`}.check(t, runCLI(t, invocation{args: []string{"emit", "--addr", ts.addr, "audit", "{x}"}}))
		select {
		case got := <-ts.events:
			t.Errorf("an invalid emit reached the handler with %s", got)
		case <-time.After(100 * time.Millisecond):
		}
	})
}

func TestUsage(t *testing.T) {
	commands := `(?s)^Usage: msgpattern <command>.*serve .*send .*emit .*bench .*version .*help `
	tests := []struct {
		name string
		args []string
		want want
	}{
		{"no command", nil, want{code: 2, stderrRE: commands}},
		{"help", []string{"help"}, want{stdoutRE: commands}},
		{"-h", []string{"-h"}, want{stdoutRE: commands}},
		{"--help", []string{"--help"}, want{stdoutRE: commands}},
		{"help help", []string{"help", "help"}, want{stdoutRE: commands}},
		{"help send", []string{"help", "send"}, want{stdoutRE: `(?s)^Usage: msgpattern send \[flags\] PATTERN \[DATA\].*--timeout duration`}},
		{"help bench", []string{"help", "bench"}, want{stdoutRE: `(?s)^Usage: msgpattern bench \[flags\] PATTERN \[DATA\].*--max-error-rate float`}},
		{"help serve", []string{"help", "serve"}, want{stdoutRE: `(?s)^Usage: msgpattern serve \[flags\].*--log-format text\|json .*--tls-cert FILE`}},
		{"help version", []string{"help", "version"}, want{stdoutRE: `^Usage: msgpattern version`}},
		{"version -h", []string{"version", "-h"}, want{stdoutRE: `^Usage: msgpattern version`}},
		{"version --help", []string{"version", "--help"}, want{stdoutRE: `^Usage: msgpattern version`}},
		{"help -h", []string{"help", "-h"}, want{stdoutRE: `^Usage: msgpattern <command>`}},
		{"help of an unknown command", []string{"help", "nope"}, want{code: 2, stderrRE: `^msgpattern help: unknown command "nope"\nUsage: `}},
		{"unknown command", []string{"nope"}, want{code: 2, stderrRE: `^msgpattern: unknown command "nope"`}},
		{"emit -h", []string{"emit", "-h"}, want{stdoutRE: `^Usage: msgpattern emit \[flags\] PATTERN \[DATA\]`}},
		{"serve -h", []string{"serve", "-h"}, want{stdoutRE: `(?s)^Usage: msgpattern serve \[flags\].*--grace duration +how long .*\(default 10s\).*--max-queued-reply size +reply .*--metrics-addr string`}},
		{"serve with an argument", []string{"serve", "x"}, want{code: 2, stderrRE: `msgpattern serve: want no arguments`}},
		{"serve --grace -1s", []string{"serve", "--grace", "-1s"}, want{code: 2, stderrRE: `^msgpattern serve: invalid value "-1s" for flag --grace: must not be negative\n`}},
		{"serve --log-format xml", []string{"serve", "--log-format", "xml"}, want{code: 2, stderrRE: `^msgpattern serve: invalid value "xml" for flag --log-format: want text or json\n`}},
		{"serve --max-connections x", []string{"serve", "--max-connections", "x"}, want{code: 2, stderrRE: `^msgpattern serve: invalid value "x" for flag --max-connections: `}},
		{"serve --tls-cert without --tls-key", []string{"serve", "--tls-cert", "x.pem"}, want{code: 2, stderrRE: `^msgpattern serve: give --tls-cert and --tls-key together\n`}},
		{"serve --tls-client-ca alone", []string{"serve", "--tls-client-ca", "x.pem"}, want{code: 2, stderrRE: `^msgpattern serve: --tls-client-ca needs --tls-cert and --tls-key\n`}},
		{"send --cert without --key", []string{"send", "--cert", "x.pem", "ping"}, want{code: 2, stderrRE: `^msgpattern send: give --cert and --key together\n`}},
		{"send --cacert missing", []string{"send", "--cacert", "/nonexistent/ca.pem", "ping"}, want{code: 2, stderrRE: `^msgpattern send: --cacert: open /nonexistent/ca.pem: `}},
		{"version with an argument", []string{"version", "x"}, want{code: 2, stderrRE: `^msgpattern version: want no arguments, got 1\n$`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.want.check(t, runCLI(t, invocation{args: tt.args}))
		})
	}
}

// TestVersion: --version and the version command print the module version
// ("(devel)", or the version Go derives from the clone's VCS) and Go's.
func TestVersion(t *testing.T) {
	re := `^msgpattern (\(devel\)|v[0-9]+\.[0-9]+\.[0-9]+\S*) ` + regexp.QuoteMeta(runtime.Version()) + `\n$`
	for _, arg := range []string{"--version", "version", "-version"} {
		want{stdoutRE: re}.check(t, runCLI(t, invocation{args: []string{arg}}))
	}
}

// syncBuffer collects a subprocess's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestServe(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGTERM")
	}
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(binary, "serve", "--addr", addr, "--metrics-addr", metricsAddr,
		"--max-handlers", "77", "--memory-budget", "3M", "--write-timeout", "4s",
		"--max-in-flight", "33", "--max-frame-size", "1M")
	cmd.Env = environ()
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{}) // closed once waitErr is set
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})

	// Ready once the metrics endpoint answers: it starts after the RPC server.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + metricsAddr + "/metrics.json")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("serve exited early (%v):\n%s", waitErr, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready after 10s:\n%s", stderr.String())
		}
	}

	want{stdout: "\"pong\"\n"}.check(t, runCLI(t, invocation{args: []string{"send", "--addr", addr, "ping"}}))
	if body := httpGet(t, "http://"+metricsAddr+"/healthz"); body != "serving\n" {
		t.Errorf("/healthz while serving: %q, want \"serving\\n\"", body)
	}

	prom := httpGet(t, "http://"+metricsAddr+"/metrics")
	if !regexp.MustCompile(`(?m)^msgpattern_requests_total [1-9]`).MatchString(prom) {
		t.Errorf("/metrics has no msgpattern_requests_total >= 1:\n%s", prom)
	}
	var snap struct {
		Requests *uint64 `json:"requests"`
		Limits   struct {
			MaxHandlers  int     `json:"max_handlers"`
			MemoryBudget int64   `json:"memory_budget_bytes"`
			WriteTimeout float64 `json:"write_timeout_ms"`
			MaxConns     int     `json:"max_connections"`
			MaxInFlight  int     `json:"max_in_flight"`
			MaxFrameSize int     `json:"max_frame_size"`
		} `json:"limits"`
	}
	if body := httpGet(t, "http://"+metricsAddr+"/metrics.json"); json.Unmarshal([]byte(body), &snap) != nil || snap.Requests == nil {
		t.Errorf("/metrics.json is not a metrics snapshot:\n%s", body)
	} else if *snap.Requests < 1 {
		t.Errorf("/metrics.json: requests = %d, want >= 1", *snap.Requests)
	}
	if l := snap.Limits; l.MaxHandlers != 77 || l.MemoryBudget != 3<<20 || l.WriteTimeout != 4000 || l.MaxConns != 1000 ||
		l.MaxInFlight != 33 || l.MaxFrameSize != 1<<20 {
		t.Errorf("/metrics.json limits = %+v, want the flags' values (77, 3M, 4s, 33, 1M) and the default 1000 connections", l)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("serve exited with %v after SIGTERM, want 0:\n%s", waitErr, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("serve still running 5s after SIGTERM:\n%s", stderr.String())
	}
	if out := stderr.String(); !strings.Contains(out, "shutting down") {
		t.Errorf("serve did not log its shutdown:\n%s", out)
	}
	// Both listeners are closed.
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after the shutdown", addr)
	}
	if resp, err := http.Get("http://" + metricsAddr + "/metrics"); err == nil {
		resp.Body.Close()
		t.Errorf("the metrics server still answers after the shutdown")
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	code, body := httpGetStatus(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", url, code, body)
	}
	return body
}

// httpGetStatus returns the status code and the body of a GET of url.
func httpGetStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}
