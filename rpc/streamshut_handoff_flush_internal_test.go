package rpc

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReaderFlushHandOffAtGracefulShutdown: the reader's flush writes the
// buffer it found and hands frames appended meanwhile (a handed-off
// stream's) to a goroutine of its own. A graceful Shutdown beginning
// while that write is in progress must still deliver every value the
// stream sends, then its end, in order, before the connection closes.
func TestReaderFlushHandOffAtGracefulShutdown(t *testing.T) {
	const more = 50
	g := startGatedStream(t, &Config{RateLimitPerSec: -1})
	s, gc, step, sent, send, frames, readErr := g.s, g.gc, g.step, g.sent, g.send, g.frames, g.readErr
	send("stream", "s")
	g.waitHandedOff()
	gc.gated.Store(true)
	send(HeartbeatPattern, "p1")
	<-gc.entered // the reader writes p1's pong
	step <- struct{}{}
	<-sent // value 0 waits behind the reader's write: handed off when it ends

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	for !errors.Is(s.Start(), ErrServerClosed) {
		time.Sleep(time.Millisecond)
	}
	gc.gated.Store(false)
	gc.release <- struct{}{}
	for range more {
		step <- struct{}{}
		<-sent
	}
	close(step)

	want := []string{`{"response":"pong","isDisposed":true,"id":"p1"}`}
	for i := range more + 1 {
		want = append(want, `{"response":`+strconv.Itoa(i)+`,"id":"s"}`)
	}
	var got []string
	for done := false; !done; {
		select {
		case f, ok := <-frames:
			if ok { // closed: readErr has the end
				got = append(got, f)
			}
		case err := <-readErr:
			if !errors.Is(err, io.EOF) {
				t.Errorf("read: %v", err)
			}
			done = true
		case <-time.After(10 * time.Second):
			t.Fatalf("stalled after %d frames", len(got))
		}
	}
	for len(frames) > 0 {
		got = append(got, <-frames)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	{
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "(*batchWriter).flush") || strings.Contains(g, "(*conn).flush") {
				t.Errorf("after Shutdown returned, a flush goroutine is left:\n%s", g)
			}
		}
	}
	// The last value and the end may be one frame (MarkDisposed).
	if len(got) < len(want) {
		t.Fatalf("got %d frames, want at least %d: %q", len(got), len(want), got)
	}
	for i, w := range want {
		if i == len(want)-1 {
			if !strings.Contains(got[i], `"response":`+strconv.Itoa(more)) {
				t.Errorf("frame %d = %s, want value %d", i, got[i], more)
			}
			continue
		}
		if got[i] != w {
			t.Errorf("frame %d = %s, want %s", i, got[i], w)
		}
	}
	if last := got[len(got)-1]; !strings.Contains(last, `"isDisposed":true`) {
		t.Errorf("last frame %s: want the stream's end", last)
	}
}
