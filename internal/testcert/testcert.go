// Package testcert makes the certificates of TLS tests: a CA, a server
// certificate for 127.0.0.1, ::1 and localhost, and a client certificate
// for mutual TLS, all issued by the CA, valid for a day, and written as PEM
// files for the tests that hand them to a command or another process.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Set is a CA and the certificates it issued, in memory and as PEM files.
type Set struct {
	// Paths of the PEM files: the CA's certificate, and each leaf's
	// certificate and private key (PKCS #8).
	CA, ServerCert, ServerKey, ClientCert, ClientKey string

	Pool   *x509.CertPool // holds just the CA
	Server tls.Certificate
	Client tls.Certificate
}

// New makes a Set and writes its files to dir.
func New(t testing.TB, dir string) *Set {
	t.Helper()
	now := time.Now()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          newSerial(t),
		Subject:               pkix.Name{CommonName: "msgpattern test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER := create(t, caTmpl, caTmpl, caKey, caKey)
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	s := &Set{
		CA:         filepath.Join(dir, "ca.pem"),
		ServerCert: filepath.Join(dir, "server.pem"),
		ServerKey:  filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"),
		ClientKey:  filepath.Join(dir, "client-key.pem"),
		Pool:       x509.NewCertPool(),
	}
	s.Pool.AddCert(ca)
	writePEM(t, s.CA, "CERTIFICATE", caDER)
	// Clients dialing an IP address check it against the IP SANs.
	s.Server = issue(t, ca, caKey, s.ServerCert, s.ServerKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	s.Client = issue(t, ca, caKey, s.ClientCert, s.ClientKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "msgpattern test client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return s
}

// ServerConfig is a server's configuration; with mutual, it requires a
// client certificate the CA issued.
func (s *Set) ServerConfig(mutual bool) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{s.Server}, MinVersion: tls.VersionTLS12}
	if mutual {
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, s.Pool
	}
	return cfg
}

// ClientConfig is a client's configuration trusting the CA; with cert, it
// presents the client certificate.
func (s *Set) ClientConfig(cert bool) *tls.Config {
	cfg := &tls.Config{RootCAs: s.Pool, MinVersion: tls.VersionTLS12}
	if cert {
		cfg.Certificates = []tls.Certificate{s.Client}
	}
	return cfg
}

// issue signs tmpl with the CA and writes the certificate and its key.
func issue(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, certPath, keyPath string, tmpl *x509.Certificate) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl.SerialNumber = newSerial(t)
	tmpl.NotBefore, tmpl.NotAfter = ca.NotBefore, ca.NotAfter
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der := create(t, tmpl, ca, key, caKey)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, certPath, "CERTIFICATE", der)
	writePEM(t, keyPath, "PRIVATE KEY", keyDER)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func create(t testing.TB, tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatalf("creating certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	return der
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
