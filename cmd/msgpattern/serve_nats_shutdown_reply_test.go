package main

import (
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeEmbeddedNATSShutdownAnswersWhatItReceived: serve --nats-server
// drains its NATS subscriptions on SIGTERM, answering the requests it
// received, and stops its embedded NATS server last (README, "Command
// line"). A request in flight at the signal must get its reply; it used to
// be lost about half the time (the client saw "nats: connection closed"),
// the NATS server stopping before it had read the reply off serve's own
// connection. Several rounds, as the loss is a race.
func TestServeEmbeddedNATSShutdownAnswersWhatItReceived(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGTERM")
	}
	for round := range 8 {
		p := startServe(t, "--addr", "127.0.0.1:0", "--nats-server", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--grace", "10s")
		url := p.waitFor(t, `(?m)^nats server listening on (nats://127\.0\.0\.1:[0-9]+)$`)
		metrics := p.waitFor(t, `json=(http://[^ ]+/metrics\.json)`)
		call := startProc(t, "send", "--nats", url, "slow", "300")
		p.poll(t, "the slow request in flight", func() bool {
			resp, err := http.Get(metrics)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			var m struct {
				InFlight int64 `json:"in_flight"`
			}
			return json.NewDecoder(resp.Body).Decode(&m) == nil && m.InFlight > 0
		})
		p.signal(t, syscall.SIGTERM, 15*time.Second, 0)
		select {
		case <-call.exited:
		case <-time.After(15 * time.Second):
			t.Fatalf("round %d: send still running", round)
		}
		if code := call.cmd.ProcessState.ExitCode(); code != 0 || strings.TrimSpace(call.stdout.String()) != `"slow:300"` {
			t.Errorf("round %d: a request in flight at SIGTERM: send exit %d, stdout %q, stderr %q; want exit 0 and its reply",
				round, code, call.stdout.String(), call.stderr.String())
			t.Logf("serve:\n%s", p.stderr.String())
		}
	}
}
