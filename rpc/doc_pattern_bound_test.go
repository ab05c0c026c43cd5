package rpc_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestDocsPatternBound: docs/PROTOCOL.md and docs/SERVER.md
// state the length past which a raw pattern matches no handler. With one
// handler whose route key is L bytes, a pattern routing to it (a JSON
// string holding its JSON text, padded with white space) of exactly the
// stated bound must be answered, and one byte more must not.
func TestDocsPatternBound(t *testing.T) {
	key := strings.Repeat("k", 100)
	s := rpc.NewServer(nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Handle(key, rpc.Func(func(json.RawMessage) (any, error) { return "hit", nil }))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()
	ask := func(n int) bool { // a raw pattern n bytes long that routes to key
		p := `"\"` + key + `\"`
		p += strings.Repeat(" ", n-len(p)-1) + `"`
		got := askLine(t, ln.Addr().String(), `{"pattern":`+p+`,"id":1}`)
		return strings.Contains(got, `"response":"hit"`)
	}
	L := len(key)
	bounds := map[string]int{
		// docs/SERVER.md, Limits: "16 × (longest registered route key + 10) + 1 KiB bytes of raw JSON"
		"docs/SERVER.md": 16*(L+10) + 1024,
	}
	proto, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	switch text := strings.Join(strings.Fields(string(proto)), " "); {
	case strings.Contains(text, "(16 × (the longest registered route key + 10) + 1 KiB of raw JSON"):
		bounds["docs/PROTOCOL.md"] = 16*(L+10) + 1024
	case strings.Contains(text, "(16 × the longest registered route key + 1 KiB of raw JSON"):
		bounds["docs/PROTOCOL.md"] = 16*L + 1024
	default:
		t.Fatal("docs/PROTOCOL.md: pattern bound not found")
	}
	for where, b := range bounds {
		if !ask(b) || ask(b+1) {
			t.Errorf("%s: bound %d bytes for a %d-byte key; a %d-byte pattern routes: %v, a %d-byte one: %v",
				where, b, L, b, ask(b), b+1, ask(b+1))
		}
	}
}
