package interop_test

// A real NestJS ClientProxy with `tlsOptions` against our server over
// mutual TLS. The certificates are made by the test and handed to node as
// PEM files in a temporary directory.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/demo"
	"github.com/msgpattern/msgpattern/rpc"
)

// tlsFiles are the PEM files client.mjs reads, and the server's TLS
// configuration made from the same certificates.
type tlsFiles struct {
	ca, clientCert, clientKey string // paths
	server                    *tls.Config
}

// newTLSFiles makes a CA, a server certificate for 127.0.0.1, ::1 and
// localhost, and a client certificate; it writes the CA and the client's
// certificate and key to dir, and returns a mutual-TLS server config.
func newTLSFiles(t *testing.T, dir string) *tlsFiles {
	t.Helper()
	now := time.Now()
	caKey := genKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "msgpattern interop CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER := createCert(t, caTmpl, caTmpl, caKey, caKey)
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)

	// Node.js checks the certificate of a server dialed by IP address
	// against its IP SANs (Nest sets no servername).
	srvKey := genKey(t)
	srvDER := createCert(t, &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, srvKey, caKey)

	cliKey := genKey(t)
	cliDER := createCert(t, &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: "nest client"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, cliKey, caKey)

	f := &tlsFiles{
		ca:         filepath.Join(dir, "ca.pem"),
		clientCert: filepath.Join(dir, "client.pem"),
		clientKey:  filepath.Join(dir, "client-key.pem"),
		server: &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pool,
			MinVersion:   tls.VersionTLS12,
		},
	}
	writePEM(t, f.ca, "CERTIFICATE", caDER)
	writePEM(t, f.clientCert, "CERTIFICATE", cliDER)
	keyDER, err := x509.MarshalPKCS8PrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, f.clientKey, "PRIVATE KEY", keyDER)
	return f
}

func genKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func createCert(t *testing.T, tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatalf("creating certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	return der
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startTLSDemoServer starts the demo contract over mutual TLS on a free
// loopback port and returns the port.
func startTLSDemoServer(t *testing.T, cfg *tls.Config) (*rpc.Server, string) {
	t.Helper()
	// 500 concurrent sends on one connection: no per-connection rate limit.
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, TLSConfig: cfg},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	demo.Register(srv)
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
	return srv, port
}

// TestNestClientToGoServerTLS runs every client.mjs scenario through a
// NestJS ClientProxy with tlsOptions {ca, cert, key} of each major against
// our server requiring client certificates.
func TestNestClientToGoServerTLS(t *testing.T) {
	node := requireNode(t)
	files := newTLSFiles(t, t.TempDir())
	for _, v := range nestMajors {
		t.Run("nest"+v, func(t *testing.T) {
			t.Parallel()
			srv, port := startTLSDemoServer(t, files.server)
			results := runClientArgs(t, node, v, port, 2*time.Minute,
				"--tls-ca", files.ca, "--tls-cert", files.clientCert, "--tls-key", files.clientKey)
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
	files := newTLSFiles(t, t.TempDir())
	for _, v := range nestMajors {
		t.Run("nest"+v, func(t *testing.T) {
			t.Parallel()
			srv, port := startTLSDemoServer(t, files.server)
			results := runClientArgs(t, node, v, port, 2*time.Minute, "--tls-ca", files.ca)
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
