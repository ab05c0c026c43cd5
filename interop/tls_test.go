package interop_test

// A real NestJS ClientProxy with `tlsOptions` against our server over
// mutual TLS. The certificates are made by the test (internal/testcert) and
// handed to node as PEM files in a temporary directory.

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/testcert"
	"github.com/msgpattern/msgpattern/rpc"
)

// startTLSDemoServer starts the demo contract over mutual TLS on a free
// loopback port and returns the port.
func startTLSDemoServer(t *testing.T, cfg *tls.Config) (*rpc.Server, string) {
	t.Helper()
	srv := newDemoServer(rpc.Config{TLSConfig: cfg})
	return srv, startServer(t, srv)
}

// TestNestClientToGoServerTLS runs every client.mjs scenario through a
// NestJS ClientProxy with tlsOptions {ca, cert, key} of each major against
// our server requiring client certificates.
func TestNestClientToGoServerTLS(t *testing.T) {
	node := requireNode(t)
	certs := testcert.New(t, t.TempDir())
	for _, v := range nestMajors {
		t.Run("nest"+v, func(t *testing.T) {
			t.Parallel()
			srv, port := startTLSDemoServer(t, certs.ServerConfig(true))
			results := runClientArgs(t, node, v, port, 2*time.Minute,
				"--tls-ca", certs.CA, "--tls-cert", certs.ClientCert, "--tls-key", certs.ClientKey)
			m := checkScenarios(t, results, srv)
			if m.ErrorByKind.Framing != 0 {
				t.Errorf("server counted %d framing errors (failed handshakes), want 0", m.ErrorByKind.Framing)
			}
		})
	}
}

// TestNestClientWithoutCertTLS: a NestJS client that trusts the server but
// has no client certificate is refused by the mutual-TLS server. Every
// scenario must fail with an error, none may hang until its own timeout,
// and the server counts the refused handshakes.
func TestNestClientWithoutCertTLS(t *testing.T) {
	node := requireNode(t)
	certs := testcert.New(t, t.TempDir())
	for _, v := range nestMajors {
		t.Run("nest"+v, func(t *testing.T) {
			t.Parallel()
			srv, port := startTLSDemoServer(t, certs.ServerConfig(true))
			results := runClientArgs(t, node, v, port, 2*time.Minute, "--tls-ca", certs.CA)
			if len(results) != scenarioCount {
				t.Errorf("client.mjs reported %d scenarios, want %d", len(results), scenarioCount)
			}
			seen := map[string]int{}
			for _, r := range results {
				seen[string(r.Error)]++
				switch {
				case r.OK:
					t.Errorf("scenario %s passed without a client certificate: result=%s error=%s", r.Scenario, r.Result, r.Error)
				case len(r.Error) == 0 || string(r.Error) == "null":
					t.Errorf("scenario %s failed without an error: result=%s", r.Scenario, r.Result)
				case string(r.Error) == `"TIMEOUT"`:
					t.Errorf("scenario %s hung until its timeout; want the refusal reported at once", r.Scenario)
				}
			}
			for e, n := range seen {
				t.Logf("%d scenarios failed with %s", n, e)
			}
			if m := srv.GetMetrics(); m.ErrorByKind.Framing == 0 || m.Requests != 0 || m.Events != 0 {
				t.Errorf("server counted framing=%d requests=%d events=%d, want framing > 0 and nothing handled",
					m.ErrorByKind.Framing, m.Requests, m.Events)
			}
		})
	}
}

// runClientArgs is runClient with extra client.mjs arguments and a bound on
// the whole run.
func runClientArgs(t *testing.T, node, major, port string, limit time.Duration, extra ...string) []scenarioResult {
	t.Helper()
	args := append([]string{"client.mjs", "--nest", major, "--host", "127.0.0.1", "--port", port}, extra...)
	return runScenarioScript(t, node, major, limit, args...)
}

// runScenarioScript runs `node args…` in nestjs/ (client.mjs or
// nats-client.mjs of NestJS major), killed after limit, and returns the
// scenario lines it printed.
func runScenarioScript(t *testing.T, node, major string, limit time.Duration, args ...string) []scenarioResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = "nestjs"
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var results []scenarioResult
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		var r scenarioResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Errorf("%s printed a line that is not a result: %q", args[0], sc.Text())
			continue
		}
		results = append(results, r)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s (nest %s) after %v: %v\nstderr:\n%s", args[0], major, time.Since(start).Round(time.Millisecond), err, stderr.String())
	}
	t.Logf("%s (nest %s) ran in %v", args[0], major, time.Since(start).Round(time.Millisecond))
	return results
}
