package rpc_test

import (
	"context"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

type htmlTagIn struct {
	A int `json:"a<b&c>"`
}

// docs/PROTOCOL.md: "Values are written as JSON.stringify writes them: <,
// >, & … raw". msgpattern:list's schemas are built with json.Marshal
// (HTML escaping on) and embedded as json.RawMessage, which is copied with
// its escapes: the reply carries "a\u003cb\u0026c\u003e" where
// JSON.stringify writes "a<b&c>" (and where every other reply writes them
// raw).
func TestIntrospectionSchemaHTMLRaw(t *testing.T) {
	s, _ := startServer(t, rpc.Config{Introspection: true}, func(s *rpc.Server) {
		s.Handle("h", rpc.Typed(func(context.Context, htmlTagIn) (int, error) { return 0, nil }))
	})
	c := dial(t, s)
	c.write(reqFrame(`"`+rpc.ListPattern+`"`, `{"schema":true}`, `1`))
	got := c.readFrame()
	if !strings.Contains(got, `"a<b&c>"`) || strings.Contains(got, `\u003c`) {
		t.Errorf("schema reply escapes HTML characters, JSON.stringify would not:\n%s", got)
	}
}
