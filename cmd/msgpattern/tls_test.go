package main

// TLS: send, emit and bench dial TLS with --tls, --cacert, --cert, --key
// and --insecure (over NATS: to the NATS server); serve --tls-cert and
// --tls-key serve it, --tls-client-ca requires client certificates.

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/msgpattern/msgpattern/internal/testcert"
	"github.com/msgpattern/msgpattern/natsrpc"
)

func TestTLS(t *testing.T) {
	certs := testcert.New(t, t.TempDir())
	ts := startTLSServer(t, certs.ServerConfig(true)) // mutual TLS
	mine := []string{"--cacert", certs.CA, "--cert", certs.ClientCert, "--key", certs.ClientKey}
	args := func(cmd string, a ...string) []string {
		return append(append([]string{cmd, "--addr", ts.addr}, mine...), a...)
	}

	t.Run("send", func(t *testing.T) {
		want{stdout: "3\n"}.check(t, runCLI(t, invocation{args: args("send", "sum", "[1,2]")}))
		want{stdout: "3\n"}.check(t, runCLI(t, invocation{args: []string{"send", "--addr", ts.addr, "--insecure",
			"--cert", certs.ClientCert, "--key", certs.ClientKey, "sum", "[1,2]"}}))
	})
	t.Run("emit", func(t *testing.T) {
		want{}.check(t, runCLI(t, invocation{args: args("emit", "audit", `"over TLS"`)}))
		select {
		case got := <-ts.events:
			if string(got) != `"over TLS"` {
				t.Errorf("event data %s", got)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the event did not reach the handler")
		}
	})
	t.Run("bench", func(t *testing.T) {
		r := runCLI(t, invocation{args: args("bench", "-c", "2", "-p", "4", "-n", "200", "sum", "[1]")})
		if r.code != 0 || !strings.Contains(r.stdout, "Count:        200\n") || !strings.Contains(r.stdout, "Errors:       0\n") {
			t.Errorf("bench over TLS: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("refused", func(t *testing.T) {
		cacertHint := `hint: give the CA that issued the server's certificate with --cacert FILE\n$`
		for _, tc := range []struct {
			name string
			args []string
			want want
		}{
			{"no TLS", []string{"send", "--addr", ts.addr, "sum"}, want{code: exitLocal,
				stderrRE: `^msgpattern: send: rpc: connection lost: .*\nhint: the server closed the connection without a reply; if it serves TLS, connect with --tls or --cacert FILE; a request over its frame size limit \(16 Mi UTF-16 units by default\) is closed so too\n$`}},
			{"no client certificate", []string{"send", "--addr", ts.addr, "--cacert", certs.CA, "sum"}, want{code: exitLocal,
				// Mostly the server's alert; sometimes the client sees only the close.
				stderrRE: `^msgpattern: send: rpc: connection lost: (remote error: tls: (certificate required|bad certificate)\nhint: the server wants a client certificate:` +
					`|.*\nhint: the server closed the connection without a reply; if it wants a client certificate,) give it with --cert FILE --key FILE(; a request over its frame size limit .*)?\n$`}},
			{"unknown CA", []string{"send", "--addr", ts.addr, "--tls", "--cert", certs.ClientCert, "--key", certs.ClientKey, "sum"}, want{code: exitLocal,
				stderrRE: `^msgpattern: send: rpc: dial .*: tls: failed to verify certificate: .*\n` + cacertHint}},
			{"emit to an unknown CA", []string{"emit", "--addr", ts.addr, "--tls", "audit"}, want{code: exitLocal,
				stderrRE: `^msgpattern: emit: rpc: dial .*: tls: failed to verify certificate: .*\n` + cacertHint}},
			{"bench to an unknown CA", []string{"bench", "--addr", ts.addr, "--tls", "-n", "1", "sum"}, want{code: exitLocal,
				stderrRE: `^msgpattern: bench: loadtest: dial [^ ]+: TLS handshake: tls: failed to verify certificate: .*\n` + cacertHint}},
			{"bench without TLS", []string{"bench", "--addr", ts.addr, "-n", "1", "sum"}, want{code: exitFailed,
				stdoutRE: `(?s)Errors: +1\n.*no_reply   1\n`, stderrRE: `^msgpattern: bench: 1 of 1 requests failed`}},
		} {
			t.Run(tc.name, func(t *testing.T) { tc.want.check(t, runCLI(t, invocation{args: tc.args})) })
		}
	})
}

// TestServeTLS: serve --tls-cert --tls-key [--tls-client-ca].
func TestServeTLS(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGTERM")
	}
	certs := testcert.New(t, t.TempDir())
	addr := freeAddr(t)
	p := startServe(t, "--addr", addr, "--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey, "--tls-client-ca", certs.CA)
	p.waitFor(t, `serving the demo patterns over TLS on .*; try:\n  msgpattern send --addr localhost:[0-9]+ --cacert CA.pem ping\n`)
	want{stdout: "\"pong\"\n"}.check(t, runCLI(t, invocation{args: []string{"send", "--addr", addr,
		"--cacert", certs.CA, "--cert", certs.ClientCert, "--key", certs.ClientKey, "ping"}}))
	if r := runCLI(t, invocation{args: []string{"send", "--addr", addr, "--cacert", certs.CA, "ping"}}); r.code != exitLocal {
		t.Errorf("send without the client certificate serve requires: exit %d, stderr %q", r.code, r.stderr)
	}
	p.stop(t)

	if r := runCLI(t, invocation{args: []string{"serve", "--addr", "127.0.0.1:0", "--tls-cert", certs.ServerCert, "--tls-key", certs.CA}}); r.code != exitUsage ||
		!strings.HasPrefix(r.stderr, "msgpattern serve: --tls-cert "+certs.ServerCert+" --tls-key "+certs.CA+": ") {
		t.Errorf("serve with a key that is not the certificate's: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestNATSTLS: with --nats, the TLS flags are the NATS connection's.
func TestNATSTLS(t *testing.T) {
	certs := testcert.New(t, t.TempDir())
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		TLSConfig: certs.ServerConfig(false), TLSTimeout: 5})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	url := ns.ClientURL()
	ts := startServer(t)
	nsrv, err := natsrpc.Connect(ts.srv, url, natsrpc.TLS(certs.ClientConfig(false)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nsrv.Close() })

	want{stdout: "3\n"}.check(t, runCLI(t, invocation{args: []string{"send", "--nats", url, "--cacert", certs.CA, "sum", "[1,2]"}}))
	want{code: exitLocal, stderrRE: `^msgpattern: send: natsrpc: connect to .*\nhint: give the CA that issued the server's certificate with --cacert FILE\n$`}.check(t,
		runCLI(t, invocation{args: []string{"send", "--nats", url, "--tls", "sum", "[1,2]"}}))
	r := runCLI(t, invocation{args: []string{"bench", "--nats", url, "--cacert", certs.CA, "-c", "2", "-p", "2", "-n", "100", "--json", "sum", "[1]"}})
	var out struct {
		Requests, Errors uint64
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || out.Requests != 100 || out.Errors != 0 {
		t.Errorf("bench --nats over TLS: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
