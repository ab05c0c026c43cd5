package rpc_test

import (
	"encoding/json"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestLineFramedReplyOfRawMessageIsOneLine: on a line-framed connection
// every reply must be one line (docs/PROTOCOL.md, "Line framing": "replies
// are one per line"). A handler's pre-encoded JSON (json.RawMessage, or an
// rpc.Error's Payload) that is pretty-printed used to be written as it was,
// a reply over several lines that a line reader cannot parse. It is now
// compacted, as a RawMessage nested in a struct already was and as
// JSON.stringify prints it, in every framing.
func TestLineFramedReplyOfRawMessageIsOneLine(t *testing.T) {
	const pretty = "{\n  \"a\": 1,\n  \"b\": \"x y\"\n}"
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("raw", rpc.Func(func(json.RawMessage) (any, error) {
			return json.RawMessage(pretty), nil
		}))
		s.Handle("rawerr", rpc.Func(func(json.RawMessage) (any, error) {
			return nil, &rpc.Error{Payload: json.RawMessage(pretty)}
		}))
	})
	c := dial(t, s)
	c.write(`{"pattern":"raw","data":null,"id":1}` + "\n")
	if got, want := c.readLine(), `{"response":{"a":1,"b":"x y"},"isDisposed":true,"id":1}`+"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	c.write(`{"pattern":"rawerr","data":null,"id":2}` + "\n")
	if got, want := c.readLine(), `{"err":{"a":1,"b":"x y"},"isDisposed":true,"id":2}`+"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}

	// NestJS framing: the same text, its length counted after compaction.
	n := dial(t, s)
	n.write(reqFrame(`"raw"`, `null`, `3`))
	n.expectFrame(valueReply(`{"a":1,"b":"x y"}`, `3`))
}
