package rpc_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// zeroWidth marshals itself; as an array of length 0 it is empty for
// omitempty whatever its methods, as encoding/json has it.
type zeroWidth [0]int

func (zeroWidth) MarshalJSON() ([]byte, error) { return []byte(`"zero-width"`), nil }

type handleID uintptr

func (handleID) MarshalJSON() ([]byte, error) { return []byte(`"handle"`), nil }

type typedReply struct {
	Name   string    `json:"name"`
	Tag    zeroWidth `json:"tag,omitempty"`
	Handle handleID  `json:"handle,omitempty"`
}

// TestTypedReplyIsEncodingJSONs: a Typed handler's result is the reply's
// response exactly as encoding/json (HTML escaping off) encodes it.
func TestTypedReplyIsEncodingJSONs(t *testing.T) {
	out := typedReply{Name: "<a&b>"}
	srv, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("typed", rpc.Typed(func(context.Context, json.RawMessage) (typedReply, error) { return out, nil }))
	})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		t.Fatal(err)
	}
	want := `{"response":` + strings.TrimSuffix(buf.String(), "\n") + `,"isDisposed":true,"id":"1"}`

	nc := rawDial(t, srv, 0)
	req := `{"pattern":"typed","data":null,"id":"1"}`
	nc.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := nc.Write([]byte(strconv.Itoa(len(req)) + "#" + req)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(nc)
	n, err := r.ReadString('#')
	if err != nil {
		t.Fatal(err)
	}
	size, _ := strconv.Atoi(strings.TrimSuffix(n, "#"))
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatal(err)
	}
	if string(body) != want {
		t.Fatalf("reply\n got %s\nwant %s", body, want)
	}
}
