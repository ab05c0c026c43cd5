package rpc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// docs/SERVER.md, Behaviour: "first byte `{` (after any ASCII blanks:
// space, \t, \n, \r, \v, \f) | line framing: one JSON object per line".
// The sniffer picks line framing after \v or \f too; those bytes are not
// JSON white space, so the first line must start after them (the request
// was dropped as invalid JSON, bad_frame, and never answered).
func TestLineFramingAfterVTabFormFeed(t *testing.T) {
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0"}, quietLogger)
	srv.Handle("ping", rpc.Func(func(json.RawMessage) (any, error) { return "pong", nil }))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())

	const want = `{"response":"pong","isDisposed":true,"id":1}`
	for _, blank := range []string{" ", "\t", "\r", "\n", "\v", "\f"} {
		nc, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		nc.Write([]byte(blank + `{"pattern":"ping","data":null,"id":1}` + "\n"))
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(nc).ReadString('\n')
		nc.Close()
		if strings.TrimSpace(line) != want {
			t.Errorf("connection starting %q then a line-framed request: got %q, %v; want %s (as after a space); bad_frame=%d",
				blank, line, err, want, srv.GetMetrics().ErrorByKind.BadFrame)
		}
	}
}
