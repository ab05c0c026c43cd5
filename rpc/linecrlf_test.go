package rpc_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestLineCRLFAtMaxFrameSize: line framing takes "\n" or "\r\n" as
// the line end (docs/SERVER.md) and MaxFrameSize is the longest frame in
// bytes for lines. A line of exactly MaxFrameSize bytes is served when it
// ends in "\n", but the same line ending in "\r\n" closes the connection as
// a framing error: the '\r' of the line end is counted as part of the line,
// both when the line is complete and while its '\n' has not arrived.
func TestLineCRLFAtMaxFrameSize(t *testing.T) {
	const maxFrame = 128
	s, _ := startServer(t, rpc.Config{MaxFrameSize: maxFrame}, func(s *rpc.Server) { registerProbe(s) })
	head := `{"pattern":"sum","data":[1],"id":"`
	line := head + strings.Repeat("x", maxFrame-len(head)-2) + `"}`
	if len(line) != maxFrame {
		t.Fatalf("line is %d bytes", len(line))
	}
	want := `{"response":1,"isDisposed":true,"id":"` + strings.Repeat("x", maxFrame-len(head)-2) + `"}` + "\n"
	for _, end := range []string{"\n", "\r\n"} {
		t.Run(strconv.Quote(end), func(t *testing.T) {
			c := dial(t, s)
			c.write(line + end)
			if got := c.readLine(); got != want {
				t.Fatalf("got %q", got)
			}
		})
	}
	if m := s.GetMetrics(); m.ErrorByKind.Framing != 0 {
		t.Errorf("errors_by_kind.framing = %d; want 0", m.ErrorByKind.Framing)
	}
}
