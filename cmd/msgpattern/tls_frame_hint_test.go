package main

import (
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/internal/testcert"
	"github.com/msgpattern/msgpattern/rpc"
)

// TestTLSFrameLimitHint: the hint for a lost connection now names the
// server's frame size limit, but only without TLS. Over TLS without --cert
// (a server that does not ask for client certificates), a request over the
// server's MaxFrameSize is still told only "if it wants a client
// certificate, give it with --cert FILE --key FILE", the "blamed TLS
// alone" defect the CHANGELOG says is fixed.
func TestTLSFrameLimitHint(t *testing.T) {
	certs := testcert.New(t, t.TempDir())
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, MaxFrameSize: 1024, TLSConfig: certs.ServerConfig(false)},
		slog.New(slog.DiscardHandler))
	srv.Handle("echo", rpc.Func(func(data json.RawMessage) (any, error) { return data, nil }))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	r := runCLI(t, invocation{args: []string{"send", "--addr", srv.Addr().String(), "--cacert", certs.CA, "echo", `"` + strings.Repeat("x", 4096) + `"`}})
	t.Logf("exit %d, stderr %q", r.code, r.stderr)
	if !regexp.MustCompile(`(?i)too large|frame size|limit`).MatchString(r.stderr) {
		t.Errorf("over TLS, a request over the server's frame size gets a hint about client certificates only: %q", r.stderr)
	}
}
