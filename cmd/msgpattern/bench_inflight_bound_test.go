package main

import (
	"strings"
	"testing"
)

// TestBenchHugeInFlightIsUsageError: -c and -p so large that no run could
// hold their requests in flight are usage errors (exit 2, one line naming
// the flags), not a crash of the runtime (makeslice: len out of range, or
// out of memory) with every goroutine's stack on stderr.
func TestBenchHugeInFlightIsUsageError(t *testing.T) {
	ts := startServer(t)
	for _, args := range [][]string{
		{"-p", "4611686018427387904"}, // 1<<62
		{"-c", "4611686018427387904"},
	} {
		r := runCLI(t, invocation{args: append(append([]string{"bench", "--addr", ts.addr, "-n", "1"}, args...), "sum")})
		if r.code != exitUsage || strings.Contains(r.stderr, "goroutine ") ||
			!strings.Contains(r.stderr, "Run 'msgpattern bench -h' for usage.") {
			out := r.stderr
			if len(out) > 600 {
				out = out[:600] + "…"
			}
			t.Errorf("bench %q: exit %d, want %d with a usage error; stderr:\n%s", args, r.code, exitUsage, out)
		}
	}
}
