package main

import (
	"encoding/json"
	"runtime"
	"testing"
)

// TestServeRateLimitBurstIsTheLibrarys: serve --rate-limit N takes the
// library's burst, twice the rate but at least 200. It set twice the rate
// alone: at 50/s, 100 of 500 pipelined requests were served, not 200.
func TestServeRateLimitBurstIsTheLibrarys(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGTERM")
	}
	p := startServe(t, "--addr", "127.0.0.1:0", "--rate-limit", "50")
	addr := p.waitFor(t, `msg="msgpattern server listening" addr=(127\.0\.0\.1:[0-9]+)`)
	r := runCLI(t, invocation{args: []string{"bench", "--addr", addr, "-n", "500", "-p", "4", "--json", "sum", "[1]"}})
	var out struct {
		Requests uint64            `json:"requests"`
		ByKind   map[string]uint64 `json:"errors_by_kind"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("bench: exit %d, %v: %q %q", r.code, err, r.stdout, r.stderr)
	}
	if served := out.Requests - out.ByKind["rate_limited"]; served < 200 {
		t.Errorf("serve --rate-limit 50: %d of %d requests served, want at least the burst of 200 (%v)", served, out.Requests, out.ByKind)
	}
}
