package rpc_test

import (
	"bufio"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestExposeHonestBigReplyPastBudget: past MemoryBudget, connections with
// more than their read-pause mark of replies waiting are dropped, but what
// a write is taking does not count: an honest client reading a 3 MiB reply
// steadily, while the budget is used by another client's frames, also gets
// the reply of the small call it makes meanwhile. It was dropped as a slow
// consumer, losing both.
func TestExposeHonestBigReplyPastBudget(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	report := strings.Repeat("r", 3<<20)
	srv, _ := startServer(t, rpc.Config{MemoryBudget: 7 << 20}, func(s *rpc.Server) {
		registerProbe(s)
		s.Handle("ingest", rpc.Func(func(json.RawMessage) (any, error) { <-release; return "stored", nil }))
		s.Handle("report", rpc.Func(func(json.RawMessage) (any, error) {
			time.Sleep(5 * time.Millisecond) // builds the report
			return report, nil
		}))
	})
	defer close(release)

	// Another client uploads three 2 MiB documents to a slow handler.
	up := rawDial(t, srv, 0)
	doc := `"` + strings.Repeat("d", 2<<20) + `"`
	var uploading sync.WaitGroup
	uploading.Go(func() {
		for _, id := range []string{"1", "2", "3"} {
			up.SetWriteDeadline(time.Now().Add(10 * time.Second))
			up.Write([]byte(reqFrame(`"ingest"`, doc, id)))
		}
	})
	t.Cleanup(func() { up.Close(); uploading.Wait() })
	if !eventually(10*time.Second, func() bool { return limits(srv).MemoryHeldBytes >= 5<<20 }) {
		t.Fatalf("uploads hold %d bytes", limits(srv).MemoryHeldBytes)
	}
	t.Logf("budget used by running handlers' frames: %.1f MiB of 7", float64(limits(srv).MemoryHeldBytes)/(1<<20))

	// The honest client: reads steadily, 64 KiB every 8 ms.
	nc := rawDial(t, srv, 0)
	got := make(chan string, 1)
	go func() {
		var sb strings.Builder
		br := bufio.NewReaderSize(nc, 64<<10)
		buf := make([]byte, 64<<10)
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		for sb.Len() < len(report) || !strings.Contains(sb.String()[len(report)-64:], `"id":2}`) {
			n, err := br.Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				if err != io.EOF {
					sb.WriteString("<" + err.Error() + ">")
				} else {
					sb.WriteString("<EOF>")
				}
				break
			}
			time.Sleep(8 * time.Millisecond)
		}
		got <- sb.String()
	}()
	nc.Write([]byte(reqFrame(`"report"`, `null`, `1`)))
	time.Sleep(60 * time.Millisecond) // the report is downloading
	nc.Write([]byte(reqFrame(`"sum"`, `[1,2]`, `2`)))
	out := <-got
	tail := out[max(0, len(out)-120):]
	if !strings.Contains(out, `"response":3,"isDisposed":true,"id":2`) || !strings.Contains(out, `"id":1`) {
		t.Errorf("honest client got %d of %d+ bytes, ending %q; slow_consumers=%d",
			len(out), len(report), tail, limits(srv).SlowConsumers)
	}
}
