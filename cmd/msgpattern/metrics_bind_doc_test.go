package main

import (
	"strings"
	"testing"
)

// TestMetricsAddrBindIsDocumented: --metrics-addr serves /metrics and
// /metrics.json (every counter and limit of the server) over plain HTTP
// with no authentication; the help must say where a host-less address
// such as the example's :9090 listens (every interface), and how to keep
// it local.
func TestMetricsAddrBindIsDocumented(t *testing.T) {
	r := runCLI(t, invocation{args: []string{"serve", "-h"}})
	if r.code != 0 {
		t.Fatalf("serve -h: exit %d\n%s", r.code, r.stderr)
	}
	var line string
	for l := range strings.Lines(r.stdout) {
		if strings.HasPrefix(strings.TrimSpace(l), "--metrics-addr") {
			line = l
		}
	}
	if !strings.Contains(line, "every interface") || !strings.Contains(line, "127.0.0.1") {
		t.Errorf("serve -h does not say where --metrics-addr without a host listens, nor how to keep it local:\n%s", line)
	}
	if strings.Contains(r.stdout, "--metrics-addr :") {
		t.Errorf("serve -h has an example exposing the metrics on every interface (--metrics-addr :PORT)")
	}
}
