package rpc_test

import (
	"context"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestCmdFallbackEscapedName: "A handler registered under the string "x"
// also answers requests whose pattern is {"cmd":"x"}" (Router's godoc,
// doc.go). The fallback took the name from the route key without
// unescaping it, and gave up on any name holding '"' or '\': a handler
// for `say "hi"` or `C:\dir` did not answer {"cmd":…} to it, NestJS's
// usual shape, and the caller got "no matching message handler".
func TestCmdFallbackEscapedName(t *testing.T) {
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle(`say "hi"`, rpc.Typed(func(context.Context, int) (string, error) { return "quoted", nil }))
		s.Handle(`C:\dir`, rpc.Typed(func(context.Context, int) (string, error) { return "backslash", nil }))
	})
	c := dial(t, s)
	c.call(`{"cmd":"say \"hi\""}`, `1`, `1`, valueReply(`"quoted"`, `1`))
	c.call(`{"cmd":"C:\\dir"}`, `1`, `2`, valueReply(`"backslash"`, `2`))
	// As a JSON string holding the object, too.
	c.call(`"{\"cmd\":\"say \\\"hi\\\"\"}"`, `1`, `3`, valueReply(`"quoted"`, `3`))
}
