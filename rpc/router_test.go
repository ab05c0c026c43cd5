package rpc_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

func constant(v any) rpc.Handler {
	return rpc.Func(func(json.RawMessage) (any, error) { return v, nil })
}

// mustPanic runs f and returns the panic message, failing if f returns.
func mustPanic(t *testing.T, f func()) (msg string) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("expected a panic, got none")
		}
		msg, _ = r.(string)
	}()
	f()
	return ""
}

func TestRouterDuplicatePatternPanicsNamingBothSites(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		first, then any
	}{
		{"same string", "ping", "ping"},
		{"number and its string", 42, "42"},
		{"object in another key order", map[string]any{"cmd": "a", "role": "b"}, json.RawMessage(`{"role":"b","cmd":"a"}`)},
		{"struct and map", struct {
			Cmd string `json:"cmd"`
		}{"x"}, map[string]string{"cmd": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rpc.NewRouter()
			r.Handle(tt.first, constant(1))
			msg := mustPanic(t, func() { r.Handle(tt.then, constant(2)) })
			if strings.Count(msg, "router_test.go:") != 2 {
				t.Errorf("panic message should name both registration sites, got %q", msg)
			}
		})
	}
}

func TestRouterInvalidPatternPanics(t *testing.T) {
	t.Parallel()
	for _, p := range []any{nil, true, "", []int{}} {
		r := rpc.NewRouter()
		if p == nil || p == true || p == "" {
			msg := mustPanic(t, func() { r.Handle(p, constant(1)) })
			if !strings.Contains(msg, "invalid pattern") {
				t.Errorf("Handle(%#v): panic %q does not say the pattern is invalid", p, msg)
			}
		}
	}
	msg := mustPanic(t, func() { rpc.NewRouter().Handle("x", nil) })
	if !strings.Contains(msg, "nil handler") {
		t.Errorf("Handle with a nil handler: panic %q", msg)
	}
}

// TestRouting checks which registered pattern a request's pattern reaches,
// through a real server.
func TestRouting(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, rpc.Config{}, func(srv *rpc.Server) {
		srv.Handle("sum", constant("plain sum"))
		srv.Handle(map[string]any{"cmd": "both"}, constant("object both"))
		srv.Handle("both", constant("plain both"))
		srv.Handle(42, constant("forty-two"))
		srv.Handle(map[string]any{"role": "math", "cmd": "mul"}, constant("mul"))
		srv.Handle(map[string]any{"cmd": "deep", "opts": map[string]any{"z": 1, "a": []any{1, "x"}}}, constant("deep"))
	})

	tests := []struct {
		pattern string // raw JSON of the request's pattern
		want    string // raw JSON of the reply value, or "" for no handler
	}{
		{`"sum"`, `"plain sum"`},
		{`{"cmd":"sum"}`, `"plain sum"`},         // the cmd convenience
		{`"{\"cmd\":\"sum\"}"`, `"plain sum"`},   // object sent as a string (emit does this)
		{`{"cmd":"both"}`, `"object both"`},      // an object handler wins over the convenience
		{`"both"`, `"plain both"`},               //
		{`42`, `"forty-two"`},                    // number
		{`"42"`, `"forty-two"`},                  // and its string
		{`{"cmd":"mul","role":"math"}`, `"mul"`}, // sorted
		{`{"role":"math","cmd":"mul"}`, `"mul"`}, // any key order
		{`" {\"role\" : \"math\", \"cmd\":\"mul\"}"`, `"mul"`},
		{`{"opts":{"a":[1,"x"],"z":1},"cmd":"deep"}`, `"deep"`},
		{`"\"sum\""`, `"plain sum"`},    // JSON-parsed string
		{`{"cmd":"sum","extra":1}`, ``}, // extra keys: a different pattern
		{`"Sum"`, ``},                   // case matters
		{`"null"`, ``},
		{`null`, ``},
		{`true`, ``},
	}
	c := dial(t, srv)
	for i, tt := range tests {
		id := `"r` + string(rune('a'+i)) + `"`
		c.write(reqFrame(tt.pattern, "null", id))
		got := c.readFrame()
		want := valueReply(tt.want, id)
		if tt.want == "" {
			want = noHandlerReply(id)
		}
		if got != want {
			t.Errorf("pattern %s:\n got  %s\n want %s", tt.pattern, got, want)
		}
	}
}

func TestUseWrapsHandlersRegisteredBeforeAndAfter(t *testing.T) {
	t.Parallel()
	tag := func(label string) rpc.Middleware {
		return func(next rpc.Handler) rpc.Handler {
			return rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
				return next.ServeMessage(ctx, prefixWriter{w, label}, r)
			})
		}
	}
	srv, _ := startServer(t, rpc.Config{}, func(srv *rpc.Server) {
		srv.Handle("before", constant("b"))
		srv.Use(tag("outer:"), tag("inner:"))
		srv.Handle("after", constant("a"))
	})
	c := dial(t, srv)
	for _, p := range []string{"before", "after"} {
		// Through a wrapped ResponseWriter the value is sent with Send,
		// and the completion rides on its frame unless that frame has
		// left already (a loaded machine: the handler was handed off), as
		// a NestJS stream's would.
		value := `"outer:inner:` + p[:1] + `"`
		c.write(reqFrame(`"`+p+`"`, "null", "1"))
		got := c.readFrame()
		if got == frame(`{"response":`+value+`,"id":1}`) {
			got += c.readFrame()
			if want := frame(`{"response":`+value+`,"id":1}`) + frame(`{"isDisposed":true,"id":1}`); got != want {
				t.Errorf("%s: got %s, want %s", p, got, want)
			}
			continue
		}
		if want := valueReply(value, "1"); got != want {
			t.Errorf("%s: got %s, want %s", p, got, want)
		}
	}
}

// prefixWriter prefixes string values, to show the order of middleware.
type prefixWriter struct {
	rpc.ResponseWriter
	prefix string
}

func (w prefixWriter) Send(v any) error {
	if s, ok := v.(string); ok {
		v = w.prefix + s
	}
	return w.ResponseWriter.Send(v)
}
