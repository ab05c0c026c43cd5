package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/internal/testcert"
)

// TestBenchDeadServerHint: over TCP, bench against an address nothing
// listens on says, as send does, "is a server listening on ADDR?", raw and
// traced (through the rpc client). It used to print the dial error alone:
// the hint was given only with --nats.
func TestBenchDeadServerHint(t *testing.T) {
	dead := freeAddr(t)
	hint := regexp.MustCompile(`\nhint: is a server listening on ` + regexp.QuoteMeta(dead) + `\? Set the address with --addr or MSGPATTERN_ADDR\n$`)
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"raw frames", nil},
		{"traced", []string{"OTEL_TRACES_EXPORTER=console"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, invocation{args: []string{"bench", "--addr", dead, "-n", "10", "ping"}, env: tc.env})
			if r.code != exitLocal {
				t.Errorf("exit %d, want %d", r.code, exitLocal)
			}
			if !hint.MatchString(r.stderr) {
				t.Errorf("stderr %q: want the hint %q", r.stderr, hint)
			}
		})
	}
}

// TestBenchTLSToPlaintextHint: bench --cacert against a server that does
// not serve TLS gets send's hint ("if it does not serve TLS, connect
// without --tls and --cacert"), as TestTLSMismatchHints wants of every
// command. bench printed "loadtest: dial …: TLS handshake: EOF" alone: the
// hint looks for rpc.ErrUnavailable, which loadtest's dial errors do not
// wrap.
func TestBenchTLSToPlaintextHint(t *testing.T) {
	certs := testcert.New(t, t.TempDir())
	plain := startServer(t)
	for _, cmd := range []string{"send", "bench"} {
		r := runCLI(t, invocation{args: []string{cmd, "--addr", plain.addr, "--cacert", certs.CA, "sum", "[1]"}})
		if r.code != exitLocal || !strings.Contains(r.stderr, "hint: the server closed the connection during the TLS handshake; if it does not serve TLS") {
			t.Errorf("%s --cacert against a plaintext server: exit %d, stderr %q; want exit 2 and a hint that the server may not serve TLS", cmd, r.code, r.stderr)
		}
	}
}

// TestBenchAddressWithoutPort: bench --addr without a port is told so, as
// send is ("want host:port"), and not asked whether a server listens there;
// "127.0.0.1:" was dialled as port 0 ("connection refused").
func TestBenchAddressWithoutPort(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:", "localhost"} {
		r := runCLI(t, invocation{args: []string{"bench", "--addr", addr, "-n", "1", "ping"}})
		if r.code != exitLocal || !strings.Contains(r.stderr, "want host:port") || strings.Contains(r.stderr, "hint:") {
			t.Errorf("bench --addr %q: exit %d, stderr %q; want exit 2 and the address called not host:port, without a hint", addr, r.code, r.stderr)
		}
	}
}
