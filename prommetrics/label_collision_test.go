package prommetrics

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestEscapedLabelDoesNotCollide: a pattern holding the byte 0xE9 and one
// that is the text `caf\xe9` (valid UTF-8) used to get the same label
// value; their series collided and the registry failed the whole scrape.
func TestEscapedLabelDoesNotCollide(t *testing.T) {
	srv := rpc.NewServer(nil, quietLogger)
	for _, p := range []string{"caf\xe9", `caf\xe9`, `"caf\xe9"`, `"caf\\xe9"`} {
		srv.Handle(p, rpc.Func(func(json.RawMessage) (any, error) { return 1, nil }))
	}
	rec := httptest.NewRecorder()
	Handler(srv).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: HTTP %d: %s", rec.Code, clipBody(body))
	}
	// The exposition format escapes \ and " once more.
	for _, want := range []string{
		`pattern="caf\\xe9"`,
		`pattern="\"caf\\xe9\""`,
		`pattern="\"\\\"caf\\\\xe9\\\"\""`,
		`pattern="\"\\\"caf\\\\\\\\xe9\\\"\""`,
	} {
		if n := strings.Count(body, "msgpattern_pattern_requests_total{"+want+"}"); n != 1 {
			t.Errorf("%d series msgpattern_pattern_requests_total{%s}, want 1", n, want)
		}
	}
}

// TestLabelValue: labels are UTF-8, a valid name not beginning with " is
// its own label, and any other is quoted, so that no two names share one.
func TestLabelValue(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ping", "ping"},
		{`{"cmd":"sum","role":"math"}`, `{"cmd":"sum","role":"math"}`},
		{`{"cmd":"a\"b"}`, `{"cmd":"a\"b"}`},
		{`caf\xe9`, `caf\xe9`},
		{"café", "café"},
		{"", ""},
		{"caf\xe9", `"caf\xe9"`},
		{`"caf\xe9"`, `"\"caf\\xe9\""`},
		{`"`, `"\""`},
		{"\xff\\", `"\xff\\"`},
	} {
		if got := labelValue(tc.in); got != tc.want {
			t.Errorf("labelValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}

	// One-to-one over names built from the pieces that could confuse an
	// escaping: quotes, backslashes, escape-like text, invalid bytes.
	pieces := []string{"", "a", `"`, `\`, `\x`, "e9", "\xe9", "é", "\xc3", "\xa9", "\n"}
	seen := map[string]string{}
	var walk func(s string, depth int)
	walk = func(s string, depth int) {
		l := labelValue(s)
		if !utf8.ValidString(l) {
			t.Errorf("labelValue(%q) = %q: not UTF-8", s, l)
		}
		if strings.HasPrefix(l, `"`) {
			if u, err := strconv.Unquote(l); err != nil || u != s {
				t.Errorf("labelValue(%q) = %q: unquotes to %q, %v", s, l, u, err)
			}
		} else if l != s {
			t.Errorf("labelValue(%q) = %q: neither quoted nor the name", s, l)
		}
		if other, ok := seen[l]; ok && other != s {
			t.Errorf("labelValue(%q) = labelValue(%q) = %q", s, other, l)
		}
		seen[l] = s
		if depth == 0 {
			return
		}
		for _, p := range pieces {
			walk(s+p, depth-1)
		}
	}
	walk("", 4)
}
