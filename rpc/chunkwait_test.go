package rpc

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/wire"
)

// TestFrameNeedsNoMoreThanTwiceItsSize: a connection whose chunk target
// (c.chunk) reached maxChunk by reading one large frame then receives a
// 100 KiB frame whose first 40 KiB end a chunk. The frame needs a chunk of
// about 2 × 40 KiB (docs/SERVER.md: "one frame … buffered as it arrives,
// ≤ about 2× its size"); the reader must not wait for 960 KiB of budget to
// read it.
func TestFrameNeedsNoMoreThanTwiceItsSize(t *testing.T) {
	const budget = 768 << 10 // holds a 520 KiB frame; less than maxChunk-recvAllowance
	s := NewServer(&Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, RetryAttempts: -1,
		MemoryBudget: budget, FrameTimeout: 2 * time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Handle("len", Func(func(data json.RawMessage) (any, error) { return len(data), nil }))
	srvEnd, cliEnd := net.Pipe()
	defer cliEnd.Close()
	c := newConn(s, srvEnd)
	go c.readLoop()

	replies := make(chan string, 64)
	go func() {
		r := bufio.NewReader(cliEnd)
		for {
			body, err := readReply(r)
			if err != nil {
				replies <- "error: " + err.Error()
				close(replies)
				return
			}
			replies <- body
		}
	}()
	frame := func(id, dataLen int) []byte {
		// data is a JSON string of dataLen bytes in all (quotes included)
		data := `"` + strings.Repeat("x", dataLen-2) + `"`
		return wire.AppendRequest(nil, wire.NestJS, []byte(`"len"`), []byte(data), nil, strconv.AppendInt(nil, int64(id), 10))
	}
	expect := func(id int) {
		t.Helper()
		select {
		case body, ok := <-replies:
			if !ok || !strings.Contains(body, `"id":`+strconv.Itoa(id)) {
				t.Fatalf("request %d: got %q (over_budget drops: %d, budget pauses: %d)", id, body, s.stats.overBudget.Load(), s.stats.budgetPauses.Load())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("request %d: no reply", id)
		}
	}
	cliEnd.SetDeadline(time.Now().Add(20 * time.Second))

	// 1. One 520 KiB frame: the chunk doubles with it, and c.chunk reaches maxChunk.
	if _, err := cliEnd.Write(frame(1, 520<<10)); err != nil {
		t.Fatal(err)
	}
	expect(1)
	// 2. Small frames that fill all but the last 40 KiB of the reader's next
	//    chunk. Wait until the reader has taken it (it then blocks in Read).
	// With this budget the reader's next chunk is 256 KiB (fitSpare: 1 MiB
	// and 512 KiB would take the budget past half), 192 KiB of it charged.
	const chunkLen = 256 << 10
	for deadline := time.Now().Add(5 * time.Second); s.budget.used.Load() != chunkLen-recvAllowance; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the reader took no 256 KiB chunk: %d bytes of budget used", s.budget.used.Load())
		}
	}
	var small []byte
	id := 2
	for len(small) < chunkLen-(40<<10)-4200 {
		small = append(small, frame(id, 4000)...)
		id++
	}
	// pad the last one so that exactly 40 KiB of the chunk are left
	last := chunkLen - (40 << 10) - len(small)
	lf := frame(id, 4000)
	lf = frame(id, 4000+last-len(lf))
	if len(small)+len(lf) != chunkLen-(40<<10) {
		t.Fatalf("padding: %d", len(small)+len(lf)-(chunkLen-(40<<10)))
	}
	small = append(small, lf...)
	// 3. A 100 KiB frame: its first 40 KiB end the chunk, in the same
	//    write as the small frames (one read fills the chunk).
	big := frame(id+1, 100<<10)
	if _, err := cliEnd.Write(append(small, big[:40<<10]...)); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= id; i++ {
		expect(i)
	}
	id++
	go cliEnd.Write(big[40<<10:]) // net.Pipe: returns once the reader has taken it all, or at close
	expect(id)
}
