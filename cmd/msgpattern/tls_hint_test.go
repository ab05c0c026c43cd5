package main

import (
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/internal/testcert"
)

// TestTLSMismatchHints: the common mistake of a missing or extra --tls gets
// the same help from every command: send says "if it serves TLS, connect
// with --tls or --cacert FILE", and so does bench on the same server (it
// printed its summary, every request failed, and nothing else); send --tls
// to a plaintext server is told it may not serve TLS (it printed only
// "EOF").
func TestTLSMismatchHints(t *testing.T) {
	certs := testcert.New(t, t.TempDir())
	tlsSrv := startTLSServer(t, certs.ServerConfig(false))
	plain := startServer(t)

	r := runCLI(t, invocation{args: []string{"bench", "--addr", tlsSrv.addr, "-c", "2", "-p", "4", "-n", "100", "sum", "[1]"}})
	if !strings.Contains(r.stderr, "hint:") || !strings.Contains(r.stderr, "--tls") {
		t.Errorf("bench without --tls against a TLS server: exit %d, stderr %q; want a hint to use --tls or --cacert", r.code, r.stderr)
	}

	r = runCLI(t, invocation{args: []string{"send", "--addr", plain.addr, "--cacert", certs.CA, "sum", "[1]"}})
	if r.code != exitLocal || !strings.Contains(r.stderr, "hint:") {
		t.Errorf("send --cacert against a plaintext server: exit %d, stderr %q; want exit 2 and a hint that the server may not serve TLS", r.code, r.stderr)
	}
}
