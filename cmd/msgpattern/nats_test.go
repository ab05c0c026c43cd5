package main

// The commands over NATS: serve with an embedded NATS server, a second
// instance joining its queue group, and send, emit and bench --nats.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/loadtest"
	"github.com/msgpattern/msgpattern/rpc"
)

// natsRequests reads the requests that came over NATS from an instance's
// /metrics.json.
func natsRequests(t *testing.T, metricsAddr string) uint64 {
	t.Helper()
	var snap struct {
		Transports []struct {
			Transport string `json:"transport"`
			Requests  uint64 `json:"requests"`
		} `json:"transports"`
	}
	body := httpGet(t, "http://"+metricsAddr+"/metrics.json")
	if err := json.Unmarshal([]byte(body), &snap); err != nil {
		t.Fatalf("/metrics.json: %v\n%s", err, body)
	}
	for _, tr := range snap.Transports {
		if tr.Transport == "nats" {
			return tr.Requests
		}
	}
	t.Fatalf("/metrics.json has no nats transport:\n%s", body)
	return 0
}

// waitNoneInFlight waits until the server behind metricsAddr runs no
// request: the calls an earlier bench gave up on (--timeout) are still
// served, and counted as they end.
func waitNoneInFlight(t *testing.T, metricsAddr string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var snap struct {
			InFlight int64 `json:"in_flight"`
		}
		body := httpGet(t, "http://"+metricsAddr+"/metrics.json")
		if err := json.Unmarshal([]byte(body), &snap); err != nil {
			t.Fatalf("/metrics.json: %v\n%s", err, body)
		}
		if snap.InFlight == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests still in flight after 10s", snap.InFlight)
		}
	}
}

func TestNATS(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGTERM")
	}
	metrics1, metrics2 := freeAddr(t), freeAddr(t)
	first := startServe(t, "--addr", "127.0.0.1:0", "--nats-server", "127.0.0.1:0", "--metrics-addr", metrics1)
	url := first.waitFor(t, `(?m)^nats server listening on (nats://127\.0\.0\.1:[0-9]+)$`)
	waitHTTP(t, first, "http://"+metrics1+"/metrics.json") // it starts after the NATS subscriptions
	if out := first.stderr.String(); !strings.Contains(out, `msg="serving over NATS" url=`+url+" queue=msgpattern service=msgpattern") {
		t.Errorf("serve did not log what it serves over NATS:\n%s", out)
	}
	nats := func(cmd string, args ...string) []string {
		return append([]string{cmd, "--nats", url}, args...)
	}

	t.Run("send", func(t *testing.T) {
		want{stdout: "3\n"}.check(t, runCLI(t, invocation{args: nats("send", "sum", "[1,2]")}))
		want{stdout: "\"sum2:6\"\n"}.check(t, runCLI(t, invocation{args: nats("send", `{"role":"math","cmd":"sum2"}`, "[1,2,3]")}))
		want{stdout: "\"forty-two\"\n"}.check(t, runCLI(t, invocation{args: nats("send", "42")}))
		want{stdout: "1\n2\n3\n", stderrRE: `^3 values in `}.check(t, runCLI(t, invocation{args: nats("send", "-v", "stream3")}))
		want{code: 1, stderrRE: `^error: \{\n  "status": "error",\n  "message": "bad input"\n\}\n$`}.check(t,
			runCLI(t, invocation{args: nats("send", "fail")}))
		want{code: 1, stderrRE: `(?s)^error: "There is no matching message handler defined in the remote service."\nhint: no handler on ` +
			regexp.QuoteMeta(url)}.check(t, runCLI(t, invocation{args: nats("send", "nope")}))
		want{code: 2, stderrRE: `^msgpattern: send: no complete reply from ` + regexp.QuoteMeta(url) + ` within 200ms \(--timeout\)\n$`}.check(t,
			runCLI(t, invocation{args: nats("send", "--timeout", "200ms", "slow", "3000")}))
	})

	t.Run("emit", func(t *testing.T) {
		want{}.check(t, runCLI(t, invocation{args: nats("emit", "evt", `{"id":7}`)}))
		want{stderrRE: `^sent\n$`}.check(t, runCLI(t, invocation{args: nats("emit", "-v", "evt", `"second"`)}))
		// One instance so far: it got both, in order.
		want{stdout: "[\n  {\n    \"id\": 7\n  },\n  \"second\"\n]\n"}.check(t, runCLI(t, invocation{args: nats("send", "events")}))
		// send to an event handler: it runs, and says nothing back.
		want{stderrRE: `^note: evt answered no value: it is an event handler`}.check(t, runCLI(t, invocation{args: nats("send", "evt", `"by send"`)}))
		want{stdout: "[\n  \"by send\"\n]\n"}.check(t, runCLI(t, invocation{args: nats("send", "events")}))
	})

	t.Run("unreachable NATS", func(t *testing.T) {
		dead := "nats://" + freeAddr(t)
		for _, cmd := range []string{"send", "emit"} {
			want{code: 2, stderrRE: `^msgpattern: ` + cmd + `: natsrpc: connect to ` + regexp.QuoteMeta(dead) + `: .*\nhint: is a NATS server listening`}.check(t,
				runCLI(t, invocation{args: []string{cmd, "--nats", dead, "--timeout", "2s", "sum", "[1]"}}))
		}
		want{code: 2, stderrRE: `^msgpattern: bench: natsrpc: connect to `}.check(t,
			runCLI(t, invocation{args: []string{"bench", "--nats", dead, "-n", "1", "sum"}}))
		if r := runCLI(t, invocation{args: []string{"serve", "--addr", "127.0.0.1:0", "--nats", dead}}); r.code != 1 ||
			!strings.Contains(r.stderr, "connect to "+dead) {
			t.Errorf("serve --nats to nowhere: exit %d, want 1; stderr %q", r.code, r.stderr)
		}
	})

	// A second instance joins the queue group.
	second := startServe(t, "--addr", "127.0.0.1:0", "--nats", url, "--metrics-addr", metrics2)
	waitHTTP(t, second, "http://"+metrics2+"/metrics.json")
	before1, before2 := natsRequests(t, metrics1), natsRequests(t, metrics2)

	t.Run("bench", func(t *testing.T) {
		r := runCLI(t, invocation{args: nats("bench", "-c", "2", "-p", "8", "-n", "200", "sum", "[1,2]")})
		if r.code != 0 {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		for _, want := range []string{"on " + url + ", 2 connections × 8 in flight", "Count:        200\n", "Errors:       0\n",
			"Requests/sec:", "99.9 % in", "Response time histogram", "OK   200\n"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("summary lacks %q:\n%s", want, r.stdout)
			}
		}
		// Both instances served part of it.
		got1, got2 := natsRequests(t, metrics1)-before1, natsRequests(t, metrics2)-before2
		if got1 == 0 || got2 == 0 || got1+got2 < 200 {
			t.Errorf("NATS requests served: %d and %d, want both > 0 and >= 200 in all", got1, got2)
		}
		t.Logf("queue group split of the bench: %d / %d", got1, got2)

		r = runCLI(t, invocation{args: nats("bench", "-p", "4", "-n", "50", "--json", "nope")})
		var out struct {
			Addr     string            `json:"addr"`
			Requests uint64            `json:"requests"`
			Errors   uint64            `json:"errors"`
			ByKind   map[string]uint64 `json:"errors_by_kind"`
		}
		if r.code != exitFailed || json.Unmarshal([]byte(r.stdout), &out) != nil ||
			r.stderr != "msgpattern: bench: 50 of 50 requests failed (100%), more than --max-error-rate 0 allows\n" {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		if out.Addr != url || out.Requests != 50 || out.Errors != 50 || out.ByKind["no_handler"] != 50 {
			t.Errorf("bench of a pattern nobody serves: %+v", out)
		}

		r = runCLI(t, invocation{args: nats("bench", "-c", "2", "-d", "1200ms", "--warmup", "200ms", "--rate", "500", "--csv", "sum", "[1]")})
		if r.code != 0 || !strings.HasPrefix(r.stdout, "addr,") || !strings.Contains(r.stdout, "\n"+url+`,sum,2,1,`) {
			t.Errorf("bench -d --rate --csv: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}

		// Calls unanswered within --timeout are errors: 4 calls of 1s with -p 2 and 100ms.
		start := time.Now()
		r = runCLI(t, invocation{args: nats("bench", "-p", "2", "-n", "4", "--timeout", "100ms", "--json", "slow", "1000")})
		out.ByKind = nil
		if r.code != exitFailed || json.Unmarshal([]byte(r.stdout), &out) != nil ||
			out.Requests != 4 || out.ByKind["deadline_exceeded"] != 4 || time.Since(start) > 5*time.Second {
			t.Errorf("bench --timeout over NATS: exit %d after %s, stdout %q, stderr %q", r.code, time.Since(start), r.stdout, r.stderr)
		}
	})

	t.Run("the first instance serves alone once the second leaves", func(t *testing.T) {
		second.stop(t)
		if out := second.stderr.String(); !strings.Contains(out, "shutting down") || strings.Contains(out, "NATS disconnected") {
			t.Errorf("the second instance should log its shutdown, and no disconnection:\n%s", out)
		}
		waitNoneInFlight(t, metrics1)
		before := natsRequests(t, metrics1)
		for range 5 {
			want{stdout: "6\n"}.check(t, runCLI(t, invocation{args: nats("send", "sum", "[1,2,3]")}))
		}
		if got := natsRequests(t, metrics1) - before; got != 5 {
			t.Errorf("the first instance served %d of 5 calls", got)
		}
	})

	first.stop(t)
	if out := first.stderr.String(); !strings.Contains(out, "stopping the NATS server") {
		t.Errorf("serve did not log that it stops its NATS server:\n%s", out)
	}
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "nats://"), time.Second); err == nil {
		c.Close()
		t.Errorf("the embedded NATS server still accepts connections after the shutdown")
	}
}

func TestServeNATSUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want want
	}{
		{"both --nats and --nats-server", []string{"--nats", "nats://127.0.0.1:4222", "--nats-server", "127.0.0.1:0"},
			want{code: 2, stderrRE: `give --nats or --nats-server, not both`}},
		{"--service without NATS", []string{"--service", "x"},
			want{code: 2, stderrRE: `--service needs --nats or --nats-server`}},
		{"--nats-queue without NATS", []string{"--nats-queue", "x"},
			want{code: 2, stderrRE: `--nats-queue needs --nats or --nats-server`}},
		{"bad --nats-server", []string{"--nats-server", "4222"},
			want{code: 2, stderrRE: `--nats-server "4222": want host:port`}},
		{"bad --service", []string{"--nats-server", "127.0.0.1:0", "--service", "my service"},
			want{code: 2, stderrRE: `--service "my service": use letters`}},
		{"help", []string{"-h"},
			want{stdoutRE: `(?s)--nats URL .*--nats-queue NAME .*--nats-server ADDR .*--service NAME `}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.want.check(t, runCLI(t, invocation{args: append([]string{"serve"}, tt.args...)}))
		})
	}
	for _, cmd := range []string{"send", "emit", "bench"} {
		want{stdoutRE: `(?s)^Usage: msgpattern ` + cmd + ` .*--nats URL `}.check(t, runCLI(t, invocation{args: []string{cmd, "-h"}}))
	}
}

// TestServeNATSPortInUse: a --nats-server address in use is a start failure.
func TestServeNATSPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := runCLI(t, invocation{args: []string{"serve", "--addr", "127.0.0.1:0", "--nats-server", ln.Addr().String()}})
	if r.code != 1 || !strings.Contains(r.stderr, "msgpattern: nats server: ") || !strings.Contains(r.stderr, "in use") {
		t.Errorf("exit %d, want 1; stderr %q", r.code, r.stderr)
	}
}

// TestServeNATSServerGone: an instance whose NATS server has gone (here,
// stopped with the instance that embedded it) still shuts down at once,
// without waiting its grace for a drain that cannot happen.
func TestServeNATSServerGone(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGTERM")
	}
	first := startServe(t, "--addr", "127.0.0.1:0", "--nats-server", "127.0.0.1:0")
	url := first.waitFor(t, `(?m)^nats server listening on (nats://127\.0\.0\.1:[0-9]+)$`)
	second := startServe(t, "--addr", "127.0.0.1:0", "--nats", url, "--grace", "8s")
	second.waitFor(t, `msg="serving over NATS"`)
	first.stop(t)
	second.waitFor(t, `msg="NATS disconnected; reconnecting"`)
	start := time.Now()
	second.stop(t)
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("the instance took %s to shut down without its NATS server; want well under its 8s grace", took)
	}
	if out := second.stderr.String(); !strings.Contains(out, "NATS connection down: leaving without draining") {
		t.Errorf("the instance did not say why it did not drain:\n%s", out)
	}
}

// TestErrorKind: bench --nats sorts errors into loadtest's kinds.
func TestErrorKind(t *testing.T) {
	remote := func(raw string) error { return &rpc.Error{Payload: json.RawMessage(raw)} }
	for _, tt := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{rpc.NoHandlerError(), loadtest.KindNoHandler},
		{remote(`{"status":"error","message":"Rate limit exceeded"}`), loadtest.KindRateLimited},
		{remote(`"request timed out"`), loadtest.KindTimeout},
		{remote(`{"status":"error","message":"bad input"}`), loadtest.KindRemote},
		{fmt.Errorf("%w: closed", rpc.ErrConnectionLost), loadtest.KindNoReply},
		{context.DeadlineExceeded, loadtest.KindNoReply},
	} {
		if got := errorKind(tt.err); got != tt.want {
			t.Errorf("errorKind(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestBenchServerGone: a bench of a duration whose server goes away ends
// at once, with the requests that got no reply counted as no_reply (exit
// 1), however it calls: raw frames over TCP (as it did), through the rpc
// client when traced, and over NATS, where it called the dead connection
// until -d was over, counting millions of failed requests.
func TestBenchServerGone(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs to kill serve")
	}
	// Tracing on, no span sampled: the requests go through rpc.Client.
	traced := []string{"OTEL_TRACES_EXPORTER=console", "OTEL_TRACES_SAMPLER=always_off"}
	for _, tc := range []struct {
		name   string
		nats   bool
		env    []string
		stderr string // the note of a traced run
	}{
		{name: "tcp"},
		{name: "tcp traced", env: traced, stderr: "note: tracing"},
		{name: "nats", nats: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tcp := freeAddr(t)
			srv := startServe(t, "--addr", tcp, "--nats-server", "127.0.0.1:0")
			url := srv.waitFor(t, `(?m)^nats server listening on (nats://127\.0\.0\.1:[0-9]+)$`)
			srv.waitFor(t, `msg="serving over NATS"`)
			target := []string{"--addr", tcp}
			if tc.nats {
				target = []string{"--nats", url}
			}
			b := startProcEnv(t, tc.env, append(append([]string{"bench"}, target...), "-d", "30s", "-p", "4", "sum", "[1]")...)
			b.waitFor(t, `req/s`) // a progress line: the load is on
			srv.cmd.Process.Kill()
			gone := time.Now()
			select {
			case <-b.exited:
			case <-time.After(40 * time.Second):
				t.Fatal("bench still running 40s after its server went away")
			}
			took, code, out := time.Since(gone), b.cmd.ProcessState.ExitCode(), b.stdout.String()
			t.Logf("bench ended %s after its server went away, exit %d: %q", took.Round(time.Millisecond), code,
				regexp.MustCompile(`(?m)^\s+(Count|Errors|no_reply).*$`).FindAllString(out, -1))
			// Generous for a noisy machine: the defect ran the 30s out.
			if took > 10*time.Second || code != exitFailed || !strings.Contains(out, "no_reply") ||
				!strings.Contains(b.stderr.String(), tc.stderr) {
				t.Errorf("bench ended %s after its server went away, exit %d; want at once, exit %d, with no_reply errors\nstdout:\n%s\nstderr:\n%s",
					took.Round(time.Millisecond), code, exitFailed, out, b.stderr.String())
			}
		})
	}
}

// TestNATSConnectInterrupt: SIGINT while connecting to a NATS server that
// does not answer (it accepts, and never sends its INFO) ends the command
// at once with 130, as over TCP; the connection attempt ignored it, until
// its timeout, and send then exited 2.
func TestNATSConnectInterrupt(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGINT")
	}
	addr, accepted := silentServer(t)
	url := "nats://" + addr
	for _, args := range [][]string{
		{"send", "--nats", url, "ping"},
		{"emit", "--nats", url, "evt"},
		{"list", "--nats", url},
		{"bench", "--nats", url, "-c", "3", "-n", "10", "ping"},
	} {
		t.Run(args[0], func(t *testing.T) {
			p := startProc(t, args...)
			select {
			case <-accepted: // connecting: the command handles signals
			case <-p.exited:
				t.Fatalf("msgpattern exited early (%v):\n%s", p.waitErr, p.stderr.String())
			case <-time.After(15 * time.Second):
				t.Fatalf("msgpattern never connected:\n%s", p.stderr.String())
			}
			// The connect timeout is 10s: well within it, and generous.
			p.signal(t, syscall.SIGINT, 5*time.Second, exitSIGINT)
			if got := p.stderr.String(); got != "msgpattern: interrupted\n" {
				t.Errorf("stderr %q, want \"msgpattern: interrupted\\n\"", got)
			}
		})
	}
}
