package main

import (
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"
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
		// Every request failed: exit 1, the summary printed all the same.
		if r.code != exitFailed || json.Unmarshal([]byte(r.stdout), &out) != nil ||
			r.stderr != "msgpattern: bench: 500 of 500 requests failed (100%), more than --max-error-rate 0 allows\n" {
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
		if err != nil || len(rows) != 2 || rows[0][0] != "addr" || rows[1][5] != "0" ||
			rows[0][1] != "pattern" || !strings.Contains(r.stdout, "\n"+ts.addr+",sum,") { // the route key, not "\"sum\"" quoted
			t.Errorf("csv output %q (%v)", r.stdout, err)
		}
		// Not a terminal: progress comes as plain lines, about one a second.
		if lines := strings.Count(r.stderr, "req/s\n"); lines < 1 || strings.Contains(r.stderr, "\r") {
			t.Errorf("progress on a non-terminal should be plain lines; stderr %q", r.stderr)
		}
	})

	t.Run("error share", func(t *testing.T) {
		// fail: every request; sum: none. --max-error-rate tolerates a share.
		for _, tc := range []struct {
			args []string
			code int
		}{
			{[]string{"-n", "100", "fail"}, exitFailed},
			{[]string{"-n", "100", "--max-error-rate", "0.99", "fail"}, exitFailed},
			{[]string{"-n", "100", "--max-error-rate", "1", "fail"}, exitOK},
			{[]string{"-n", "100", "--max-error-rate", "0", "sum", "[1]"}, exitOK},
		} {
			r := runCLI(t, invocation{args: append([]string{"bench", "--addr", ts.addr}, tc.args...)})
			if r.code != tc.code || !strings.Contains(r.stdout, "Count:        100\n") {
				t.Errorf("bench %q: exit %d, want %d; stdout %q, stderr %q", tc.args, r.code, tc.code, r.stdout, r.stderr)
			}
		}
	})

	t.Run("timeout", func(t *testing.T) {
		// A server that never answers: every request is an error after
		// --timeout, and the run of -n ends.
		start := time.Now()
		r := runCLI(t, invocation{args: []string{"bench", "--addr", ts.addr, "-p", "2", "-n", "6", "--timeout", "100ms", "hang"}})
		if r.code != exitFailed || !strings.Contains(r.stdout, "Count:        6\n") || !strings.Contains(r.stdout, "deadline_exceeded   6\n") ||
			time.Since(start) > 10*time.Second {
			t.Errorf("exit %d after %s; stdout %q, stderr %q", r.code, time.Since(start), r.stdout, r.stderr)
		}
	})

	t.Run("usage errors", func(t *testing.T) {
		for _, tc := range []struct {
			args     []string
			stderrRE string
		}{
			{[]string{"-n", "10", "-d", "1s", "sum"}, `^msgpattern bench: give -n or -d, not both\n`},
			{[]string{"--json", "--csv", "sum"}, `^msgpattern bench: give --json or --csv, not both\n`},
			{nil, `^msgpattern bench: want PATTERN \[DATA\], got 0 argument\(s\)\n`},
			{[]string{"sum", "not json"}, `DATA is not valid JSON`},
			{[]string{"-c", "0", "sum"}, `^msgpattern bench: invalid value "0" for flag -c: must be at least 1\n`},
			{[]string{"-p", "0", "sum"}, `^msgpattern bench: invalid value "0" for flag -p: must be at least 1\n`},
			{[]string{"-c", "-2", "sum"}, `^msgpattern bench: invalid value "-2" for flag -c: must be at least 1\n`},
			{[]string{"-n", "-1", "sum"}, `^msgpattern bench: invalid value "-1" for flag -n: must be at least 0\n`},
			{[]string{"-d", "-1s", "sum"}, `^msgpattern bench: invalid value "-1s" for flag -d: must not be negative\n`},
			{[]string{"--warmup", "-1s", "sum"}, `^msgpattern bench: invalid value "-1s" for flag --warmup: must not be negative\n`},
			{[]string{"--timeout", "-1s", "sum"}, `^msgpattern bench: invalid value "-1s" for flag --timeout: must not be negative\n`},
			{[]string{"--rate", "-5", "sum"}, `^msgpattern bench: invalid value "-5" for flag --rate: must be at least 0\n`},
			{[]string{"--rate", "NaN", "sum"}, `^msgpattern bench: invalid value "NaN" for flag --rate: want a number\n`},
			{[]string{"--max-error-rate", "1.5", "sum"}, `^msgpattern bench: invalid value "1.5" for flag --max-error-rate: must be between 0 and 1\n`},
			{[]string{"--key", "k.pem", "sum"}, `^msgpattern bench: give --cert and --key together\n`},
		} {
			args := append([]string{"bench", "--addr", ts.addr}, tc.args...)
			want{code: exitUsage, stderrRE: tc.stderrRE}.check(t, runCLI(t, invocation{args: args}))
		}
		if r := runCLI(t, invocation{args: []string{"bench", "--addr", freeAddr(t), "-n", "1", "sum"}}); r.code != exitLocal {
			t.Errorf("unreachable server: exit %d, want %d", r.code, exitLocal)
		}
	})
}
