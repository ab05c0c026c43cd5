package main

import (
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
)

// TestBench runs `msgpattern bench` against an in-process server.
func TestBench(t *testing.T) {
	ts := startServer(t)

	t.Run("summary", func(t *testing.T) {
		r := runCLI(t, invocation{args: []string{"bench", "--addr", ts.addr, "-c", "2", "-p", "8", "-n", "3000", "sum", "[1,2]"}})
		if r.code != 0 {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		for _, want := range []string{"Count:        3000", "Errors:       0", "Requests/sec:", "99.9 % in", "Response time histogram", "OK   3000"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("summary lacks %q:\n%s", want, r.stdout)
			}
		}
	})

	t.Run("json", func(t *testing.T) {
		r := runCLI(t, invocation{args: []string{"bench", "--addr", ts.addr, "-p", "4", "-n", "500", "--json", "nope"}})
		var out struct {
			Requests   uint64            `json:"requests"`
			Errors     uint64            `json:"errors"`
			ByKind     map[string]uint64 `json:"errors_by_kind"`
			RPS        float64           `json:"requests_per_second"`
			P50Ms      float64           `json:"p50_ms"`
			P999Ms     float64           `json:"p999_ms"`
			Histogram  []any             `json:"histogram"`
			Pattern    string            `json:"pattern"`
			InFlight   int               `json:"in_flight"`
			Connection int               `json:"connections"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		if out.Requests != 500 || out.Errors != 500 || out.ByKind["no_handler"] != 500 || out.RPS <= 0 ||
			out.P50Ms <= 0 || out.P999Ms < out.P50Ms || out.Pattern != "nope" || out.InFlight != 4 || len(out.Histogram) == 0 {
			t.Errorf("json summary: %+v", out)
		}
	})

	t.Run("csv and plain progress for a duration", func(t *testing.T) {
		r := runCLI(t, invocation{args: []string{"bench", "--addr", ts.addr, "-d", "1200ms", "--rate", "500", "--csv", "sum", "[1]"}})
		if r.code != 0 {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
		if err != nil || len(rows) != 2 || rows[0][0] != "addr" || rows[1][5] != "0" {
			t.Errorf("csv output %q (%v)", r.stdout, err)
		}
		// Not a terminal: progress comes as plain lines, about one a second.
		if lines := strings.Count(r.stderr, "req/s\n"); lines < 1 || strings.Contains(r.stderr, "\r") {
			t.Errorf("progress on a non-terminal should be plain lines; stderr %q", r.stderr)
		}
	})

	t.Run("usage errors", func(t *testing.T) {
		for _, args := range [][]string{
			{"bench", "--addr", ts.addr, "-n", "10", "-d", "1s", "sum"},
			{"bench", "--addr", ts.addr, "--json", "--csv", "sum"},
			{"bench", "--addr", ts.addr},
			{"bench", "--addr", ts.addr, "sum", "not json"},
		} {
			if r := runCLI(t, invocation{args: args}); r.code != exitUsage {
				t.Errorf("%q: exit %d, want %d; stderr %q", args, r.code, exitUsage, r.stderr)
			}
		}
		if r := runCLI(t, invocation{args: []string{"bench", "--addr", freeAddr(t), "-n", "1", "sum"}}); r.code != exitLocal {
			t.Errorf("unreachable server: exit %d, want %d", r.code, exitLocal)
		}
	})
}
