package rpc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestDocsDataTooLargeMessage: docs/SERVER.md ("a request gets
// `…`") and WithMaxDataBytes' godoc ("the error reply \"…\"") quote the
// message a request over WithMaxDataBytes gets; the reply must carry that
// message (… standing for a number).
func TestDocsDataTooLargeMessage(t *testing.T) {
	s := rpc.NewServer(nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Handle("big", rpc.Typed(func(ctx context.Context, in []int) (int, error) { return len(in), nil }), rpc.WithMaxDataBytes(8))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()
	var reply struct {
		Err struct{ Message string }
	}
	if err := json.Unmarshal([]byte(askLine(t, ln.Addr().String(), `{"pattern":"big","data":[1,2,3,4,5,6,7],"id":1}`)), &reply); err != nil {
		t.Fatal(err)
	}
	claims := map[string]string{}
	server, _ := os.ReadFile("../docs/SERVER.md")
	for _, l := range strings.Split(string(server), "\n") {
		if m := regexp.MustCompile("`WithMaxDataBytes`: a request gets `([^`]*)`").FindStringSubmatch(l); m != nil {
			claims["docs/SERVER.md"] = m[1]
		}
	}
	router, _ := os.ReadFile("router.go")
	if m := regexp.MustCompile(`(?s)pattern whose data is longer than n bytes of JSON: a request gets the\s*// error reply "([^"]*)"`).FindSubmatch(router); m != nil {
		claims["WithMaxDataBytes godoc"] = string(m[1])
	}
	if len(claims) != 2 {
		t.Fatalf("claims found: %q", claims)
	}
	for where, claim := range claims {
		re := "^" + strings.ReplaceAll(regexp.QuoteMeta(claim), "…", "[0-9]+") + "$"
		if !regexp.MustCompile(re).MatchString(reply.Err.Message) {
			t.Errorf("%s says a request gets %q; the reply's message is %q", where, claim, reply.Err.Message)
		}
	}
}

// askLine sends one line-framed request and returns the reply line.
func askLine(t *testing.T, addr, line string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, line+"\n")
	r, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return strings.TrimSpace(r)
}
