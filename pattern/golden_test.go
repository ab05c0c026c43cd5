package pattern_test

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/pattern"
)

// TestRouteGolden replays testdata/routes.txt: random patterns routed by the
// real Nest 12.1.1 server code (testdata/gen.mjs).
func TestRouteGolden(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join("testdata", "routes.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		rawQ, wantQ, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			t.Fatalf("line %d: no tab", n)
		}
		var raw string
		if err := json.Unmarshal([]byte(rawQ), &raw); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		want, wantOK := decodeRoute(t, wantQ)
		got, gotOK := pattern.Route([]byte(raw), nil)
		if gotOK != wantOK || string(got) != want {
			t.Errorf("line %d: Route(%s)\n got %q, %v\nwant %q, %v", n, raw, got, gotOK, want, wantOK)
			continue
		}
		// A JSON object or array registered from Go routes the same,
		// unless it holds a number beyond a double (see Of).
		if c := strings.TrimLeft(raw, " \t\r\n"); wantOK && c != "" && (c[0] == '{' || c[0] == '[') {
			reg, err := pattern.Of(json.RawMessage(raw))
			if err == nil && reg != want {
				t.Errorf("line %d: Of(json.RawMessage(%s))\n got %q\nwant %q", n, raw, reg, want)
			}
			if err != nil && !strings.Contains(raw, "e400") {
				t.Errorf("line %d: Of(json.RawMessage(%s)): %v", n, raw, err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 1000 {
		t.Fatalf("routes.txt has %d lines, want at least 1000", n)
	}
}

// decodeRoute reads the expected route column of routes.txt.
func decodeRoute(t *testing.T, s string) (string, bool) {
	t.Helper()
	if s == "!" {
		return "", false
	}
	if h, ok := strings.CutPrefix(s, "wtf8:"); ok {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		return string(b), true
	}
	var r string
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("route %s: %v", s, err)
	}
	return r, true
}
