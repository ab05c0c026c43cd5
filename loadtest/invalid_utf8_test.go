package loadtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/loadtest"
	"github.com/msgpattern/msgpattern/rpc"
)

// loadtest frames its requests with wire.AppendFrame, whose length counts
// UTF-16 units assuming valid UTF-8. Config.Data is "raw JSON" and is not
// checked: `msgpattern bench sum @file` passes a file's bytes through
// encoding/json, which accepts invalid UTF-8 inside strings. A NestJS server
// (and ours) decodes the frame as Node does (one U+FFFD per maximal invalid
// subpart), so a byte 0xFF counted as 2 units, or a stray continuation byte
// counted as 0, makes the announced length disagree with the text: the
// server's framing is lost and every request of the run fails.
func TestRunInvalidUTF8DataFramedAsNodeCounts(t *testing.T) {
	for _, data := range []string{"\"\xff\"", "\"\x80\"", "\"a\xf8b\""} {
		srv := startServer(t, rpc.Config{})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := loadtest.Run(ctx, loadtest.Config{
			Addr: srv.Addr().String(), Connections: 1, InFlight: 1, Requests: 3,
			Pattern: []byte(`"sum"`), Data: []byte(data), Timeout: 500 * time.Millisecond,
		})
		cancel()
		if err != nil {
			t.Fatalf("data %q: %v", data, err)
		}
		if res.Errors != 0 || res.Requests != 3 {
			t.Errorf("data %q: requests %d, errors %d (%v); want 3 answered, 0 errors (frame length must count units as Node decodes the bytes)",
				data, res.Requests, res.Errors, res.ByKind)
		}
	}
}
