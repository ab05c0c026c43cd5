package main

// Signals: send and bench exit 130 on SIGINT and 143 on SIGTERM; serve
// shuts down gracefully on the first (/healthz says "draining" meanwhile)
// and stops at once on a second.

import (
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestInterrupt(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGINT and SIGTERM")
	}
	ts := startServer(t)
	waitHang := func(t *testing.T, p *proc) {
		t.Helper()
		select {
		case <-ts.hangs: // the request is in flight: the command handles signals
		case <-p.exited:
			t.Fatalf("msgpattern exited early (%v):\n%s", p.waitErr, p.stderr.String())
		case <-time.After(15 * time.Second):
			t.Fatalf("the request never reached the server:\n%s", p.stderr.String())
		}
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run("send "+tc.sig.String(), func(t *testing.T) {
			p := startProc(t, "send", "--addr", ts.addr, "hang")
			waitHang(t, p)
			p.signal(t, tc.sig, 5*time.Second, tc.code)
			if got := p.stderr.String(); got != "msgpattern: interrupted\n" {
				t.Errorf("stderr %q, want \"msgpattern: interrupted\\n\"", got)
			}
		})
	}
	t.Run("bench SIGTERM", func(t *testing.T) {
		p := startProc(t, "bench", "--addr", ts.addr, "-d", "1m", "--timeout", "0", "hang")
		waitHang(t, p)
		p.signal(t, syscall.SIGTERM, 5*time.Second, 143)
		if !strings.Contains(p.stdout.String(), "Summary: ") {
			t.Errorf("bench printed no summary of what it measured: %q", p.stdout.String())
		}
	})
}

// TestServeShutdown: during the grace, /healthz answers 503 "draining";
// a second SIGINT stops serve at once, with exit 130.
func TestServeShutdown(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGINT")
	}
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	p := startServe(t, "--addr", addr, "--metrics-addr", metricsAddr, "--grace", "1m")
	waitHTTP(t, p, "http://"+metricsAddr+"/metrics.json")
	health := func() (int, string) { return httpGetStatus(t, "http://"+metricsAddr+"/healthz") }
	if code, body := health(); code != http.StatusOK || body != "serving\n" {
		t.Errorf("/healthz while serving: %d %q, want 200 \"serving\\n\"", code, body)
	}

	// A request that holds the shutdown for its minute of grace.
	call := startProc(t, "send", "--addr", addr, "--timeout", "0", "slow", "60000")
	p.poll(t, "the slow request in flight", func() bool {
		var m struct {
			InFlight int64 `json:"in_flight"`
		}
		return json.Unmarshal([]byte(httpGet(t, "http://"+metricsAddr+"/metrics.json")), &m) == nil && m.InFlight > 0
	})
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, `msg="shutting down"`)
	if code, body := health(); code != http.StatusServiceUnavailable || body != "draining\n" {
		t.Errorf("/healthz while draining: %d %q, want 503 \"draining\\n\"", code, body)
	}
	select {
	case <-p.exited:
		t.Fatalf("serve exited before its grace ended (%v):\n%s", p.waitErr, p.stderr.String())
	case <-time.After(200 * time.Millisecond):
	}
	start := time.Now()
	p.signal(t, syscall.SIGINT, 5*time.Second, 130)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("serve took %s to stop after a second SIGINT", took)
	}
	if out := p.stderr.String(); !strings.Contains(out, `msg="stopping at once" signal=interrupt`) {
		t.Errorf("serve did not log why it stopped at once:\n%s", out)
	}
	<-call.exited // its connection was closed
	if code := call.cmd.ProcessState.ExitCode(); code != exitLocal {
		t.Errorf("the call cut short by the server exited %d, want %d:\n%s", code, exitLocal, call.stderr.String())
	}
}

// TestServeLogJSON: with --log-format json, every line serve writes is a
// JSON object.
func TestServeLogJSON(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGTERM")
	}
	p := startServe(t, "--addr", "127.0.0.1:0", "--log-format", "json", "--nats-server", "127.0.0.1:0")
	p.waitFor(t, `"msg":"serving the demo patterns over NATS"`)
	p.stop(t)
	out := p.stderr.String()
	for _, want := range []string{`"msg":"msgpattern server listening"`, `"msg":"nats server listening","url":"nats://127.0.0.1:`,
		`"msg":"serving the demo patterns","addr":"127.0.0.1:`, `"msg":"shutting down"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s:\n%s", want, out)
		}
	}
	for line := range strings.Lines(out) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["msg"] == nil || rec["level"] == nil {
			t.Errorf("not a JSON log record: %q", line)
		}
	}
}
