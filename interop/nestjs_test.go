package interop_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/demo"
	"github.com/msgpattern/msgpattern/rpc"
)

// nestMajors are the NestJS versions the tests run against.
var nestMajors = []string{"10", "11", "12"}

// scenarioCount is how many scenarios client.mjs runs.
const scenarioCount = 15

var installOnce sync.Once
var installErr error

// requireNode returns the node binary, installing the npm packages if they
// are missing. Without node the test is skipped, or fails under CI.
func requireNode(t testing.TB) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is not installed: the NestJS interop tests cannot run (CI=true makes this a failure)")
		}
		t.Skip("node is not installed")
	}
	installOnce.Do(func() {
		for _, v := range nestMajors {
			if _, err := os.Stat(filepath.Join("nestjs", "v"+v, "node_modules", "@nestjs", "microservices")); err != nil {
				installErr = runInstall()
				return
			}
		}
		// NATS client packages, added to v11/ and v12/ after the rest: an
		// older install lacks them.
		for _, pkg := range natsPackages {
			if _, err := os.Stat(filepath.Join("nestjs", filepath.FromSlash(pkg), "package.json")); err != nil {
				installErr = runInstall()
				return
			}
		}
	})
	if installErr != nil {
		t.Fatalf("installing the NestJS packages (nestjs/install.sh): %v", installErr)
	}
	return node
}

// natsPackages are the NATS client packages NestJS loads for Transport.NATS,
// one per major that pins one.
var natsPackages = []string{"v11/node_modules/nats", "v12/node_modules/@nats-io/transport-node"}

func runInstall() error {
	cmd := exec.Command("sh", "nestjs/install.sh")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

type scenarioResult struct {
	Scenario string          `json:"scenario"`
	OK       bool            `json:"ok"`
	Result   json.RawMessage `json:"result"`
	Error    json.RawMessage `json:"error"`
}

// TestNestClientToGoServer runs a real NestJS ClientProxy of each major
// against our server: string, number and object patterns, the cmd
// convenience, unicode, a 1 MiB payload, 500 concurrent sends on one
// client, events, a 3-value stream, handler errors and an unknown pattern.
func TestNestClientToGoServer(t *testing.T) {
	node := requireNode(t)
	for _, v := range nestMajors {
		t.Run("nest"+v, func(t *testing.T) {
			t.Parallel()
			srv := newDemoServer(rpc.Config{})
			port := startServer(t, srv)
			checkScenarios(t, runClient(t, node, v, port), srv)
		})
	}
}

// newDemoServer is the demo contract's server (internal/demo) with cfg,
// on a loopback port unless cfg.Addr says otherwise, and without a
// per-connection rate limit (the scenarios make 500 concurrent sends on
// one connection) unless cfg sets one.
func newDemoServer(cfg rpc.Config) *rpc.Server {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.RateLimitPerSec == 0 {
		cfg.RateLimitPerSec = -1
	}
	srv := rpc.NewServer(&cfg, discard())
	demo.Register(srv)
	return srv
}

// startServer starts srv on its address, shut down (given 5 s) when the
// test ends, and returns the port it listens on.
func startServer(t *testing.T, srv *rpc.Server) string {
	t.Helper()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	_, port, err := net.SplitHostPort(srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func runClient(t *testing.T, node, major, port string) []scenarioResult {
	t.Helper()
	return runClientArgs(t, node, major, port, 2*time.Minute)
}

// checkScenarios requires every client.mjs scenario to have passed, and the
// server to have counted the scenario's two events.
func checkScenarios(t *testing.T, results []scenarioResult, srv *rpc.Server) rpc.Metrics {
	t.Helper()
	if len(results) != scenarioCount {
		t.Errorf("client.mjs reported %d scenarios, want %d", len(results), scenarioCount)
	}
	for _, r := range results {
		if !r.OK {
			t.Errorf("scenario %s failed: result=%s error=%s", r.Scenario, r.Result, r.Error)
		}
	}
	m := srv.GetMetrics()
	if m.Events < 2 {
		t.Errorf("server counted %d events, want at least 2", m.Events)
	}
	return m
}
