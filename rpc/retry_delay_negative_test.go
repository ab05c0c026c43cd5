package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestNegativeRetryDelayRetriesAtOnce: a negative RetryDelay (a value
// computed by a subtraction, say) means no wait. It used to panic in the
// backoff's jitter (rand.Int64N of a negative bound) on the connection's
// goroutine, outside any recover: the whole process died. The server runs
// in a child process so that such a crash is a failure, not the test's end.
func TestNegativeRetryDelayRetriesAtOnce(t *testing.T) {
	if os.Getenv("RETRYDELAY_CHILD") == "1" {
		negativeRetryDelayChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNegativeRetryDelayRetriesAtOnce$", "-test.count=1")
	cmd.Env = append(os.Environ(), "RETRYDELAY_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		text := string(out)
		if i := strings.Index(text, "panic:"); i >= 0 {
			text = text[i:min(len(text), i+600)]
		}
		t.Fatalf("the server process died on a Transient error with RetryDelay -500ms: %v\n%s", err, text)
	}
}

func negativeRetryDelayChild(t *testing.T) {
	cfg := rpc.Config{Addr: "127.0.0.1:0", RetryDelay: -500 * time.Millisecond}
	s := rpc.NewServer(&cfg, discardLogger())
	rpc.NewServerWrapper(s).MessagePattern("flaky", func(data json.RawMessage) (interface{}, error) {
		return nil, rpc.Transient(errors.New("busy"))
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c := dial(t, s)
	c.write(reqFrame(`"flaky"`, `null`, `1`))
	c.expectFrame(errReply(internalError, `1`))
	c.close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
