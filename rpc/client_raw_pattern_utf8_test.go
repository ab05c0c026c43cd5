package rpc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
	"github.com/msgpattern/msgpattern/wire"
)

// TestClientRawPatternInvalidUTF8Length: a json.RawMessage pattern was
// appended to the request verbatim, and pattern.Of accepts invalid UTF-8
// inside it. The frame's length prefix is computed by wire.Units, which
// assumes valid UTF-8 and counts the byte 0xFF as 2 units, while Node's
// StringDecoder (and wire.FrameScanner) decode it as one U+FFFD, 1 unit.
// The prefix was one too large: a NestJS server swallowed the first byte
// of the next frame's header into this frame and lost the stream (or the
// frame never completed). The pattern is sanitized as data is now.
func TestClientRawPatternInvalidUTF8Length(t *testing.T) {
	ln, accepted := acceptOne(t)
	c, err := rpc.NewClient(ln.Addr().String(), rpc.WithClientLogger(discardLogger()), rpc.WithHeartbeat(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pat := json.RawMessage("{\"cmd\":\"a\xffb\"}")
	if err := c.Emit(ctx, pat, 1); err != nil {
		t.Fatalf("Emit: %v", err)
	}
	if err := c.Emit(ctx, "next", 2); err != nil {
		t.Fatalf("Emit: %v", err)
	}
	var nc interface {
		Read([]byte) (int, error)
		SetReadDeadline(time.Time) error
	}
	select {
	case conn := <-accepted:
		nc = conn
		defer conn.Close()
	case <-ctx.Done():
		t.Fatal("no connection")
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var buf []byte
	tmp := make([]byte, 4096)
	for bytes.Count(buf, []byte(`"data":`)) < 2 || !bytes.HasSuffix(buf, []byte("}")) {
		n, err := nc.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if err != nil {
			t.Fatalf("read: %v (got %q)", err, buf)
		}
	}
	// Scan the bytes as a NestJS server (JsonSocket) reads them.
	var s wire.FrameScanner
	for i := 0; i < 2; i++ {
		f, err := s.Scan(buf)
		if err != nil || f.Len == 0 {
			t.Fatalf("frame %d: err %v, incomplete=%v, in %q", i, err, f.Len == 0, buf)
		}
		body := wire.SanitizeUTF8(nil, f.Body)
		if !json.Valid(body) {
			t.Fatalf("frame %d: the length prefix does not match the body as Node decodes it: body %q (all bytes %q)", i, body, buf)
		}
		buf = buf[f.Len:]
	}
}
