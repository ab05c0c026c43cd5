package rpc_test

// Bad input: each test sends one kind of malformed or hostile input and
// checks (1) what the offending connection gets, (2) that the connection
// keeps serving when it should, (3) that a second, well-behaved connection
// open at the same time is unaffected, and (4) that the server's metrics
// counted the case.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestBadInputCorruptLengthAfterSlowRequest: a corrupted length prefix
// arrives while a slow request of the same connection is running. Framing
// is lost, so the connection must close, but only after the slow request's
// reply went out.
func TestBadInputCorruptLengthAfterSlowRequest(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
	}{
		{"same write", []string{reqFrame(`"slow"`, `"A"`, `"id-slow"`) + "abc#"}},
		{"separate writes", []string{reqFrame(`"slow"`, `"A"`, `"id-slow"`), "abc#"}},
		{"garbage without #", []string{reqFrame(`"slow"`, `"A"`, `"id-slow"`), strings.Repeat("x", 40)}},
		{"minus sign", []string{reqFrame(`"slow"`, `"A"`, `"id-slow"`), "-5#{}"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) { registerProbe(s) })
			other := dial(t, s)
			bystanderCheck(t, other, "before")

			c := dial(t, s)
			for i, w := range tc.writes {
				if i > 0 {
					time.Sleep(20 * time.Millisecond)
				}
				c.write(w)
			}
			bystanderCheck(t, other, "during")
			c.expectFrame(valueReply(`"slow:A"`, `"id-slow"`))
			c.expectClosed()

			bystanderCheck(t, other, "after")
			waitMetric(t, s, "errors_by_kind.framing", 1, func(m rpc.Metrics) uint64 { return m.ErrorByKind.Framing })
			waitMetric(t, s, "active_connections", 1, func(m rpc.Metrics) int64 { return m.ActiveConnections })
		})
	}
}

// TestBadInputInvalidJSON: a well-framed frame holding invalid JSON is
// skipped and counted; the framing is intact, so the connection carries on.
func TestBadInputInvalidJSON(t *testing.T) {
	bodies := []string{
		`{abc}`,
		`{"pattern":"sum","data":[1,2],"id":"x"`, // unterminated object
		`{"pattern":"sum","data":[1,2],"id":"x",}`,             // trailing comma
		`{"pattern":"sum","data":[1,2],"id":"x"}}`,             // trailing garbage
		`{"pattern":"sum","data":[1,2] "id":"x"}`,              // missing comma
		`{"pattern":"sum","data":01,"id":"x"}`,                 // leading zero
		`{"pattern":"sum","data":"a` + "\x01" + `b","id":"x"}`, // raw control character
		`{"pattern":'sum',"id":"x"}`,
		`{"pattern":"sum","data":[1,2],"id":"x"}` + "\x00",
		`{"pattern":"sum","data":NaN,"id":"x"}`,
		`{"pattern":"\q","id":"x"}`,
		`{"pattern":"sum","data":tru,"id":"x"}`,
		`{"pattern":"sum","data":[1,2],"id":"x","dup":}`,
	}
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) { registerProbe(s) })
	other := dial(t, s)
	c := dial(t, s)
	for i, b := range bodies {
		c.write(frame(b))
		id := strconv.Quote("after-" + strconv.Itoa(i))
		// Had the bad frame been answered, this would read its reply.
		c.call(`"sum"`, `[1,2]`, id, valueReply(`3`, id))
		bystanderCheck(t, other, strconv.Itoa(i))
		want := uint64(i + 1)
		waitMetric(t, s, "errors_by_kind.bad_frame after "+strconv.Quote(b), want, func(m rpc.Metrics) uint64 { return m.ErrorByKind.BadFrame })
	}
	c.expectQuiet()
}

// TestBadInputMissingPattern: a request without a pattern, or with the
// empty pattern "", gets an error reply naming the problem; without an id
// it is dropped. Both are counted as bad frames.
func TestBadInputMissingPattern(t *testing.T) {
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) { registerProbe(s) })
	other := dial(t, s)
	c := dial(t, s)

	withID := []struct{ name, body, id string }{
		{"no pattern member", `{"data":1,"id":"m1"}`, `"m1"`},
		{"empty pattern", `{"pattern":"","data":1,"id":"m2"}`, `"m2"`},
		{"empty pattern, spaced", `{ "pattern" : "" , "id" : 7 }`, `7`},
		{"no pattern, only id", `{"id":null}`, `null`},
	}
	bad := uint64(0)
	for _, tc := range withID {
		t.Run(tc.name, func(t *testing.T) {
			c := c.with(t)
			c.write(frame(tc.body))
			got := c.readFrame()
			body := got[strings.IndexByte(got, '#')+1:]
			var reply map[string]json.RawMessage
			if err := json.Unmarshal([]byte(body), &reply); err != nil {
				t.Fatalf("reply %q is not JSON: %v", got, err)
			}
			// A Nest client takes a frame with other keys for a foreign message.
			for k := range reply {
				if k != "err" && k != "isDisposed" && k != "id" {
					t.Errorf("reply %q has key %q", got, k)
				}
			}
			if string(reply["id"]) != tc.id || string(reply["isDisposed"]) != "true" {
				t.Errorf("reply %q: want id %s and isDisposed true", got, tc.id)
			}
			var e struct{ Status, Message string }
			if err := json.Unmarshal(reply["err"], &e); err != nil || e.Status != "error" || !strings.Contains(strings.ToLower(e.Message), "pattern") {
				t.Errorf("reply %q: want err {\"status\":\"error\",\"message\":<text mentioning the pattern>}", got)
			}
			if !strings.HasSuffix(body, `,"id":`+tc.id+`}`) {
				t.Errorf("reply %q: id must be the last key", got)
			}
			bad++
			waitMetric(t, s, "errors_by_kind.bad_frame", bad, func(m rpc.Metrics) uint64 { return m.ErrorByKind.BadFrame })
		})
	}
	for i, body := range []string{`{"data":1}`, `{"pattern":"","data":1}`, `{}`} {
		t.Run("without id "+body, func(t *testing.T) {
			c := c.with(t)
			c.write(frame(body))
			id := strconv.Quote("after-" + strconv.Itoa(i))
			c.call(`"sum"`, `[1,2]`, id, valueReply(`3`, id))
			bad++
			waitMetric(t, s, "errors_by_kind.bad_frame", bad, func(m rpc.Metrics) uint64 { return m.ErrorByKind.BadFrame })
		})
	}
	bystanderCheck(t, other, "end")
	if n := s.GetMetrics().ErrorByKind.NoHandler; n != 0 {
		t.Errorf("errors_by_kind.no_handler = %d, want 0: a missing pattern is a bad frame", n)
	}
}

// TestBadInputUnknownPattern: NestJS's no-handler reply, byte for byte;
// an unknown event gets nothing. Both are counted.
func TestBadInputUnknownPattern(t *testing.T) {
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) { registerProbe(s) })
	other := dial(t, s)
	c := dial(t, s)
	cases := []struct{ pattern, id string }{
		{`"nope"`, `"id-nope"`},
		{`{"cmd":"nope","role":"x"}`, `"id-obj"`},
		{`{"cmd":"sum","role":"math"}`, `"id-partial-match"`}, // sum2 is {cmd,role}; this is not registered
		{`"{\"cmd\":\"sum2\"}"`, `"id-strobj"`},
		{`43`, `7`},
		{`null`, `"id-null"`},
		{`true`, `"id-true"`},
		{`"null"`, `"id-strnull"`}, // the probe registers "null": it can never match
		{`[1,2]`, `"id-array"`},
		{`"évén 😀"`, `"id-uni"`},
	}
	for i, tc := range cases {
		c.call(tc.pattern, `1`, tc.id, noHandlerReply(tc.id))
		waitMetric(t, s, "errors_by_kind.no_handler", uint64(i+1), func(m rpc.Metrics) uint64 { return m.ErrorByKind.NoHandler })
	}
	// Unknown events: no reply at all, counted apart.
	c.write(reqFrame(`"nope-evt"`, `1`, ``))
	c.write(reqFrame(`{"cmd":"nope-evt"}`, `1`, ``))
	c.call(`"sum"`, `[1]`, `"after"`, valueReply(`1`, `"after"`))
	waitMetric(t, s, "errors_by_kind.no_event_handler", 2, func(m rpc.Metrics) uint64 { return m.ErrorByKind.NoEventHandler })
	bystanderCheck(t, other, "end")
	c.expectQuiet()
}

// TestBadInputFrameTooLarge: a length prefix above Config.MaxFrameSize
// closes the connection as soon as it is read: the body is never sent.
func TestBadInputFrameTooLarge(t *testing.T) {
	const max = 64
	// A request of exactly max units is served.
	base := reqBody(`"echo"`, `""`, `"b"`)
	pad := strings.Repeat("x", max-nestUnits(base))
	exact := reqBody(`"echo"`, `"`+pad+`"`, `"b"`)
	if nestUnits(exact) != max {
		t.Fatalf("test bug: %d units", nestUnits(exact))
	}

	for _, tc := range []struct {
		name string
		send string
	}{
		{"huge prefix only", "999999#"},
		{"one unit over", strconv.Itoa(max+1) + "#"},
		{"prefix with digits beyond int64", strings.Repeat("9", 25) + "#"},
		{"line framing, long line without newline", `{"pattern":"echo","data":"` + strings.Repeat("x", 2*max)},
		{"line framing, long line with newline", `{"pattern":"echo","data":"` + strings.Repeat("x", 2*max) + `"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := startServer(t, rpc.Config{MaxFrameSize: max}, func(s *rpc.Server) { registerProbe(s) })
			other := dial(t, s)
			c := dial(t, s)
			c.write(tc.send)
			c.expectClosed()
			bystanderCheck(t, other, "after")
			waitMetric(t, s, "errors_by_kind.framing", 1, func(m rpc.Metrics) uint64 { return m.ErrorByKind.Framing })
			waitMetric(t, s, "active_connections", 1, func(m rpc.Metrics) int64 { return m.ActiveConnections })
		})
	}
	t.Run("exactly MaxFrameSize is served", func(t *testing.T) {
		s, _ := startServer(t, rpc.Config{MaxFrameSize: max}, func(s *rpc.Server) { registerProbe(s) })
		c := dial(t, s)
		c.write(frame(exact))
		c.expectFrame(valueReply(`"`+pad+`"`, `"b"`))
		c.call(`"sum"`, `[2]`, `"c"`, valueReply(`2`, `"c"`))
		if n := s.GetMetrics().ErrorByKind.Framing; n != 0 {
			t.Errorf("errors_by_kind.framing = %d, want 0", n)
		}
	})
}

// TestBadInputStalledFrame: a peer that stops in the middle of a frame is
// dropped after Config.FrameTimeout, but neither an idle connection nor one
// that keeps sending complete frames for longer than FrameTimeout is.
func TestBadInputStalledFrame(t *testing.T) {
	const frameTimeout = 200 * time.Millisecond
	cfg := rpc.Config{FrameTimeout: frameTimeout}

	for _, tc := range []struct{ name, partial string }{
		{"inside the body", `44#{"pattern":"su`},
		{"inside the prefix", `44`},
		{"right after #", `44#`},
		{"after a complete frame", reqFrame(`"sum"`, `[1]`, `"first"`) + `44#{"pat`},
		{"line framing", `{"pattern":"sum","data":[1,2]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := startServer(t, cfg, func(s *rpc.Server) { registerProbe(s) })
			other := dial(t, s)
			c := dial(t, s)
			c.write(tc.partial)
			if strings.Contains(tc.partial, `"first"`) {
				c.expectFrame(valueReply(`1`, `"first"`))
			}
			start := time.Now()
			c.expectClosed() // within closeTimeout (5s) ...
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("closed after %v; FrameTimeout is %v", d, frameTimeout) // ... and well within ~1s normally
			}
			bystanderCheck(t, other, "after")
			waitMetric(t, s, "errors_by_kind.framing", 1, func(m rpc.Metrics) uint64 { return m.ErrorByKind.Framing })
		})
	}

	t.Run("a frame trickling in byte by byte", func(t *testing.T) {
		s, _ := startServer(t, cfg, func(s *rpc.Server) { registerProbe(s) })
		c := dial(t, s)
		req := reqFrame(`"sum"`, `[1,2,3,4,5,6,7,8,9,10]`, `"trickle"`)
		var werr error
		for i := 0; i < len(req) && werr == nil; i++ {
			// 50ms a byte: the frame would take ~3s, far past FrameTimeout.
			_, werr = c.nc.Write([]byte{req[i]})
			time.Sleep(50 * time.Millisecond)
		}
		if werr == nil {
			// All of it went out: then there must not be a reply.
			t.Log("whole frame written before the server closed")
		}
		c.expectClosed()
		waitMetric(t, s, "errors_by_kind.framing", 1, func(m rpc.Metrics) uint64 { return m.ErrorByKind.Framing })
	})

	t.Run("idle between frames is not dropped", func(t *testing.T) {
		s, _ := startServer(t, cfg, func(s *rpc.Server) { registerProbe(s) })
		c := dial(t, s)
		c.call(`"sum"`, `[1]`, `"i1"`, valueReply(`1`, `"i1"`))
		time.Sleep(3 * frameTimeout)
		c.call(`"sum"`, `[2]`, `"i2"`, valueReply(`2`, `"i2"`))
		if n := s.GetMetrics().ErrorByKind.Framing; n != 0 {
			t.Errorf("errors_by_kind.framing = %d, want 0", n)
		}
	})

	// A connection streaming complete frames for 2×FrameTimeout, with a 1 s
	// FrameTimeout: a write every 10 ms against 200 ms left the writing
	// goroutine 20 intervals, and a loaded CI machine has delayed one by
	// 400 ms. "aligned":
	// every write is whole frames. "straddling": every write ends inside the
	// next frame, so the server always holds part of a frame between reads,
	// as it does when a client's pipelined burst is cut into TCP segments.
	for _, straddle := range []bool{false, true} {
		name := "continuous frames, aligned writes"
		if straddle {
			name = "continuous frames, writes straddling frame boundaries"
		}
		t.Run(name, func(t *testing.T) {
			const contFrameTimeout = time.Second
			s, _ := startServer(t, rpc.Config{FrameTimeout: contFrameTimeout}, func(s *rpc.Server) { registerProbe(s) })
			c := dial(t, s)

			const interval = 10 * time.Millisecond
			n := int(2*contFrameTimeout/interval) + 1
			frames := make([]string, n)
			for i := range frames {
				frames[i] = reqFrame(`"sum"`, `[`+strconv.Itoa(i)+`]`, strconv.Itoa(i))
			}
			readDone := make(chan error, 1)
			var replies atomic.Int64
			// Each request answered once; not necessarily in order: on a
			// loaded machine two frames read together may be answered out
			// of order (a reply to 1 came before the reply to 0 with -cpu 1).
			pending := make(map[string]bool, n)
			for i := range n {
				pending[valueReply(strconv.Itoa(i), strconv.Itoa(i))] = true
			}
			go func() {
				for range n {
					f, err := c.readFrameErr(ioTimeout)
					if err != nil {
						readDone <- err
						return
					}
					if !pending[f] {
						readDone <- errors.New("reply " + strconv.Quote(f) + ": not one of the replies still due")
						return
					}
					delete(pending, f)
					replies.Add(1)
				}
				readDone <- nil
			}()
			start := time.Now()
			var werr error
			for i := 0; i < n && werr == nil; i++ {
				out := frames[i] // the rest of frame i, when straddling
				if straddle && i+1 < n {
					half := len(frames[i+1]) / 2
					out += frames[i+1][:half]
					frames[i+1] = frames[i+1][half:]
				}
				c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
				_, werr = io.WriteString(c.nc, out)
				time.Sleep(interval)
			}
			if werr != nil {
				t.Errorf("write failed after %v: %v", time.Since(start), werr)
			}
			if err := <-readDone; err != nil {
				t.Errorf("after %v and %d/%d replies: %v", time.Since(start), replies.Load(), n, err)
			}
			if n := s.GetMetrics().ErrorByKind.Framing; n != 0 {
				t.Errorf("errors_by_kind.framing = %d, want 0: a connection sending complete frames was dropped as stalled", n)
			}
		})
	}
}

// TestBadInputInvalidUTF8: invalid UTF-8 inside a JSON string is decoded
// as Node.js decodes it (one U+FFFD per maximal invalid subpart, WHATWG),
// both for framing (the length counts the decoded UTF-16 units) and for
// what the handler receives.
func TestBadInputInvalidUTF8(t *testing.T) {
	s, _ := startServer(t, rpc.Config{}, nil)
	p := registerProbe(s)
	other := dial(t, s)
	c := dial(t, s)

	for i, tc := range []struct {
		name    string
		raw     string // bytes inside the data string, as sent
		decoded string // what Node would decode them to
		splitAt int    // if > 0, the frame is sent in two writes, split this many bytes into raw
	}{
		{"truncated 3-byte sequence", "\xE2\x82A", "\uFFFDA", 0},
		{"0xFF", "\xFF", "\uFFFD", 0},
		{"lead byte before the closing quote", "a\xC3", "a\uFFFD", 0},
		{"truncated 4-byte sequence", "\xF0\x9F\x98x", "\uFFFDx", 0},
		{"encoded surrogate", "\xED\xA0\x80", "\uFFFD\uFFFD\uFFFD", 0},
		{"overlong 2-byte", "\xC0\xAF", "\uFFFD\uFFFD", 0},
		{"overlong 3-byte", "\xE0\x80\x80", "\uFFFD\uFFFD\uFFFD", 0},
		{"above U+10FFFF", "\xF4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD", 0},
		{"lone continuation bytes", "\x80\xBF", "\uFFFD\uFFFD", 0},
		{"valid and invalid mixed", "é😀\xFFz", "é😀\uFFFDz", 0},
		{"split inside the invalid sequence", "\xE2\x82A", "\uFFFDA", 1},
		{"split inside a valid 4-byte sequence after an invalid byte", "\xFF😀", "\uFFFD😀", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := c.with(t)
			id := strconv.Quote("u" + strconv.Itoa(i))
			body := reqBody(`"echo"`, `"`+tc.raw+`"`, id)
			decodedBody := reqBody(`"echo"`, `"`+tc.decoded+`"`, id)
			msg := frameUnits(nestUnits(decodedBody), body)
			if tc.splitAt > 0 {
				cut := strings.Index(msg, tc.raw) + tc.splitAt
				c.write(msg[:cut])
				time.Sleep(20 * time.Millisecond)
				c.write(msg[cut:])
			} else {
				c.write(msg)
			}
			c.expectFrame(valueReply(`"`+tc.decoded+`"`, id))
			select {
			case got := <-p.echoed:
				if string(got) != `"`+tc.decoded+`"` {
					t.Errorf("handler received %q, want %q", got, `"`+tc.decoded+`"`)
				}
			case <-time.After(ioTimeout):
				t.Fatal("echo handler not called")
			}
			// Had the length been counted wrongly, this would be misframed.
			next := strconv.Quote("next-" + strconv.Itoa(i))
			c.call(`"sum"`, `[1,2]`, next, valueReply(`3`, next))
		})
	}
	t.Run("invalid UTF-8 in the id is echoed as Node decoded it", func(t *testing.T) {
		c := c.with(t)
		body := reqBody(`"sum"`, `[1]`, "\"i\xFFd\"")
		c.write(frameUnits(nestUnits(reqBody(`"sum"`, `[1]`, "\"i\uFFFDd\"")), body))
		c.expectFrame(valueReply(`1`, "\"i\uFFFDd\""))
	})
	bystanderCheck(t, other, "end")
	if e := s.GetMetrics().ErrorByKind; e.BadFrame != 0 || e.Framing != 0 {
		t.Errorf("bad_frame %d, framing %d: invalid UTF-8 inside strings is not an error", e.BadFrame, e.Framing)
	}
}

// TestBadInputDeepNesting: messages nested deeper than Config.MaxDepth
// (default 1000) are skipped and counted; the connection carries on.
func TestBadInputDeepNesting(t *testing.T) {
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) { registerProbe(s) })
	other := dial(t, s)
	c := dial(t, s)
	arrays := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	objects := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }

	bad := uint64(0)
	for i, tc := range []struct {
		name    string
		body    string
		echo    string // the reply value if served; "" if skipped
		comment string
	}{
		{"data arrays 900 deep", reqBody(`"echo"`, arrays(900), `"d0"`), arrays(900), ""},
		{"data objects 900 deep", reqBody(`"echo"`, objects(900), `"d1"`), objects(900), ""},
		{"data 999 deep", reqBody(`"echo"`, arrays(999), `"d2"`), arrays(999), "the message is 1000 deep"},
		{"data 1001 deep", reqBody(`"echo"`, arrays(1001), `"d3"`), "", ""},
		{"data arrays 2000 deep", reqBody(`"echo"`, arrays(2000), `"d4"`), "", ""},
		{"data objects 2000 deep", reqBody(`"echo"`, objects(2000), `"d5"`), "", ""},
		{"pattern 2000 deep", reqBody(objects(2000), `1`, `"d6"`), "", ""},
		{"ignored member 2000 deep", `{"pattern":"echo","data":1,"id":"d7","x":` + arrays(2000) + `}`, "", ""},
		{"unterminated 100000 deep", reqBody(`"echo"`, strings.Repeat("[", 100000), `"d8"`), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := c.with(t)
			c.write(frame(tc.body))
			if tc.echo != "" {
				id := `"d` + strconv.Itoa(i) + `"`
				c.expectFrame(valueReply(tc.echo, id))
			} else {
				bad++
				waitMetric(t, s, "errors_by_kind.bad_frame", bad, func(m rpc.Metrics) uint64 { return m.ErrorByKind.BadFrame })
			}
			next := strconv.Quote("next-" + strconv.Itoa(i))
			c.call(`"sum"`, `[1,2]`, next, valueReply(`3`, next))
			bystanderCheck(t, other, strconv.Itoa(i))
		})
	}

	t.Run("Config.MaxDepth", func(t *testing.T) {
		s, _ := startServer(t, rpc.Config{MaxDepth: 10}, func(s *rpc.Server) { registerProbe(s) })
		c := dial(t, s)
		c.write(reqFrame(`"echo"`, arrays(20), `"deep"`))
		c.call(`"echo"`, arrays(5), `"shallow"`, valueReply(arrays(5), `"shallow"`))
		waitMetric(t, s, "errors_by_kind.bad_frame", 1, func(m rpc.Metrics) uint64 { return m.ErrorByKind.BadFrame })
	})
}

// TestBadInputNonObjectFrames: valid JSON that is not an object (NestJS's
// own codec tests send such frames) is not a packet: skipped, counted.
func TestBadInputNonObjectFrames(t *testing.T) {
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) { registerProbe(s) })
	other := dial(t, s)
	c := dial(t, s)
	for i, f := range []string{"5#12.34", "4#true", "4#null", `9#["yes",9]`, `13#"Hello there"`, "0#", "3#   ", "2#[]", `2#""`} {
		t.Run(f, func(t *testing.T) {
			c := c.with(t)
			c.write(f)
			id := strconv.Quote("after-" + strconv.Itoa(i))
			c.call(`"sum"`, `[1,2]`, id, valueReply(`3`, id))
			waitMetric(t, s, "errors_by_kind.bad_frame", uint64(i+1), func(m rpc.Metrics) uint64 { return m.ErrorByKind.BadFrame })
		})
	}
	bystanderCheck(t, other, "end")
	if n := s.GetMetrics().ErrorByKind.Framing; n != 0 {
		t.Errorf("errors_by_kind.framing = %d, want 0", n)
	}
}

// panicsWhenEncoded is a handler result whose encoding panics: user
// MarshalJSON code, which once ran while the server held the request's
// lock (it runs before the lock is taken now).
type panicsWhenEncoded struct{}

func (panicsWhenEncoded) MarshalJSON() ([]byte, error) { panic("encoder bug") }

// TestBadInputHandlerPanic: a panicking handler gets NestJS's internal error
// reply, is counted, and the server keeps serving. That includes a result
// whose encoding panics, which once left the request's lock held: the
// connection's reader, the hand-off monitor and Shutdown all hung on it.
func TestBadInputHandlerPanic(t *testing.T) {
	evtDone := make(chan struct{}, 1)
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		registerProbe(s)
		s.Handle("panic", rpc.Func(func(json.RawMessage) (any, error) { panic("kaboom") }))
		s.Handle("panicnil", rpc.Func(func(json.RawMessage) (any, error) { panic(nil) }))
		s.Handle("panicerr", rpc.Func(func(json.RawMessage) (any, error) { panic(errors.New("secret detail")) }))
		s.Handle("panicslow", rpc.ContextFunc(func(context.Context, json.RawMessage) (any, error) {
			time.Sleep(20 * time.Millisecond) // long enough to be moved off the reader
			panic("late kaboom")
		}))
		s.Handle("panicstream", rpc.Stream(func(context.Context, json.RawMessage) iter.Seq2[int, error] {
			return func(yield func(int, error) bool) {
				yield(1, nil)
				panic("mid-stream")
			}
		}))
		s.Handle("panicencode", rpc.Func(func(json.RawMessage) (any, error) { return panicsWhenEncoded{}, nil }))
		s.Handle("panicencodestream", rpc.Stream(func(context.Context, json.RawMessage) iter.Seq2[any, error] {
			return func(yield func(any, error) bool) {
				if yield(1, nil) {
					yield(panicsWhenEncoded{}, nil)
				}
			}
		}))
		s.HandleEvent("panicevt", rpc.HandlerFunc(func(context.Context, rpc.ResponseWriter, *rpc.Request) error {
			defer func() { evtDone <- struct{}{} }()
			panic("event kaboom")
		}))
	})
	other := dial(t, s)
	c := dial(t, s)

	c.call(`"panic"`, `1`, `"p1"`, errReply(internalError, `"p1"`))
	c.call(`"panicnil"`, `1`, `"p2"`, errReply(internalError, `"p2"`))
	c.call(`"panicerr"`, `1`, `"p3"`, errReply(internalError, `"p3"`))
	c.call(`"panicslow"`, `1`, `"p4"`, errReply(internalError, `"p4"`))
	c.write(reqFrame(`"panicstream"`, `1`, `"p5"`))
	c.expectFrame(partReply(`1`, `"p5"`))
	c.expectFrame(errReply(internalError, `"p5"`))
	c.call(`"panicencode"`, `1`, `"p6"`, errReply(internalError, `"p6"`))
	c.write(reqFrame(`"panicencodestream"`, `1`, `"p7"`))
	c.expectFrame(partReply(`1`, `"p7"`))
	c.expectFrame(errReply(internalError, `"p7"`))
	c.write(reqFrame(`"panicevt"`, `1`, ``))
	select {
	case <-evtDone:
	case <-time.After(ioTimeout):
		t.Fatal("event handler not called")
	}
	c.call(`"sum"`, `[1,2]`, `"after"`, valueReply(`3`, `"after"`))
	bystanderCheck(t, other, "end")
	waitMetric(t, s, "errors_by_kind.panic", 8, func(m rpc.Metrics) uint64 { return m.ErrorByKind.Panic })
	c.expectQuiet()
}

// TestBadInputLineFraming: a connection whose first byte is '{' speaks
// newline-delimited JSON (for nc and telnet users).
func TestBadInputLineFraming(t *testing.T) {
	s, _ := startServer(t, rpc.Config{}, nil)
	p := registerProbe(s)
	other := dial(t, s)
	c := dial(t, s)

	steps := []struct {
		name, send string
		want       []string // lines expected back, in order
	}{
		{"request with id", `{"pattern":"sum","data":[1,2],"id":"n1"}` + "\n", []string{`{"response":3,"isDisposed":true,"id":"n1"}` + "\n"}},
		{"request without id to a message handler", `{"pattern":"sum","data":[1,2]}` + "\n", []string{`{"response":3,"isDisposed":true}` + "\n"}},
		{"invalid line", `{abc}` + "\n", nil},
		{"blank lines", "\n\r\n   \n", nil},
		{"CRLF line end", `{"pattern":"sum","data":[2,2],"id":"n2"}` + "\r\n", []string{`{"response":4,"isDisposed":true,"id":"n2"}` + "\n"}},
		{"unknown pattern", `{"pattern":"nope","data":1,"id":"n3"}` + "\n", []string{`{"id":"n3","status":"error","err":"` + noHandlerText + `"}` + "\n"}},
		{"unknown pattern without id", `{"pattern":"nope","data":1}` + "\n", nil},
		{"stream", `{"pattern":"obs3","data":1,"id":"n4"}` + "\n", []string{
			`{"response":1,"id":"n4"}` + "\n", `{"response":2,"id":"n4"}` + "\n", `{"response":3,"isDisposed":true,"id":"n4"}` + "\n"}},
		{"error", `{"pattern":"rpcerr","data":1,"id":"n5"}` + "\n", []string{`{"err":{"status":"error","message":"msg"},"isDisposed":true,"id":"n5"}` + "\n"}},
		{"event", `{"pattern":"evt","data":{"z":1}}` + "\n", nil},
		{"invalid UTF-8", "{\"pattern\":\"echo\",\"data\":\"\xFF\",\"id\":\"n6\"}\n", []string{"{\"response\":\"\uFFFD\",\"isDisposed\":true,\"id\":\"n6\"}\n"}},
		{"two lines in one write", `{"pattern":"sum","data":[1],"id":"a"}` + "\n" + `{"pattern":"sum","data":[2],"id":"b"}` + "\n",
			[]string{`{"response":1,"isDisposed":true,"id":"a"}` + "\n", `{"response":2,"isDisposed":true,"id":"b"}` + "\n"}},
		{"non-object line", "[1,2]\n", nil},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			c := c.with(t)
			c.write(st.send)
			for _, w := range st.want {
				if got := c.readLine(); got != w {
					t.Fatalf("got %q, want %q", got, w)
				}
			}
			// A marker request: its reply must be the next line.
			id := strconv.Quote("m" + strconv.Itoa(i))
			c.write(`{"pattern":"sum","data":[5],"id":` + id + "}\n")
			if got, want := c.readLine(), `{"response":5,"isDisposed":true,"id":`+id+"}\n"; got != want {
				t.Fatalf("marker: got %q, want %q", got, want)
			}
		})
	}
	select {
	case got := <-p.events:
		if got != `evt={"z":1}` {
			t.Errorf("event handler got %q", got)
		}
	case <-time.After(ioTimeout):
		t.Error("event handler not called")
	}
	bystanderCheck(t, other, "end")
	m := s.GetMetrics().ErrorByKind
	if m.BadFrame != 2 || m.NoHandler != 1 || m.NoEventHandler != 1 || m.Framing != 0 {
		t.Errorf("errors_by_kind = %+v; want bad_frame 2, no_handler 1, no_event_handler 1, framing 0", m)
	}
	c.expectQuiet()
}

// TestBadInputUnknownFirstByte: a connection whose first byte (after ASCII
// blanks) is neither a digit, '+' nor '{' speaks no protocol we know: closed.
func TestBadInputUnknownFirstByte(t *testing.T) {
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) { registerProbe(s) })
	other := dial(t, s)
	bad := []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"[1,2]\n",
		`"x"` + "\n",
		"\x00\x01\x02",
		" \t\r\nx",
		"-5#{}",
		"\xEF\xBB\xBF" + `{"pattern":"sum"}` + "\n", // a BOM
		"\u00A0" + reqFrame(`"sum"`, `[1]`, `"x"`),  // the sniff is ASCII; later frames may (parseInt)
		"\x16\x03\x01\x02\x00",                      // a TLS ClientHello
	}
	for i, b := range bad {
		t.Run(strconv.Quote(b), func(t *testing.T) {
			c := dial(t, s)
			c.write(b)
			c.expectClosed()
			waitMetric(t, s, "errors_by_kind.framing", uint64(i+1), func(m rpc.Metrics) uint64 { return m.ErrorByKind.Framing })
			bystanderCheck(t, other, strconv.Itoa(i))
		})
	}
	// Blanks before a known first byte are fine.
	for i, tc := range []struct{ send, want string }{
		{"  \n " + reqFrame(`"sum"`, `[1]`, `"b1"`), valueReply(`1`, `"b1"`)},
		{"+" + reqFrame(`"sum"`, `[2]`, `"b2"`), valueReply(`2`, `"b2"`)},
	} {
		t.Run("accepted "+strconv.Itoa(i), func(t *testing.T) {
			c := dial(t, s)
			c.write(tc.send)
			c.expectFrame(tc.want)
		})
	}
	t.Run("accepted Unicode blanks before a later frame", func(t *testing.T) {
		c := dial(t, s)
		c.write(reqFrame(`"sum"`, `[4]`, `"b4"`) + "\uFEFF\u00A0\u2028" + reqFrame(`"sum"`, `[5]`, `"b5"`))
		// The two calls run concurrently: their replies come in either
		// order (the machine may run b5's handler first).
		got := []string{c.readFrame(), c.readFrame()}
		slices.Sort(got)
		if want := []string{valueReply(`4`, `"b4"`), valueReply(`5`, `"b5"`)}; !slices.Equal(got, want) {
			t.Fatalf("replies %q, want %q (in any order)", got, want)
		}
	})
	t.Run("accepted line framing after blanks", func(t *testing.T) {
		c := dial(t, s)
		c.write("  \t" + `{"pattern":"sum","data":[3],"id":"b3"}` + "\n")
		if got, want := c.readLine(), `{"response":3,"isDisposed":true,"id":"b3"}`+"\n"; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

// TestBadInputLeadingBlanksBounded: blanks before the first frame are
// held to MaxFrameSize, like a frame: past it the connection is closed as
// a framing error. They used to be buffered without bound (from the memory
// budget: 32 MiB of spaces held 64 MiB of it), and rescanned after every
// read.
func TestBadInputLeadingBlanksBounded(t *testing.T) {
	const maxFrame = 64 << 10
	s, _ := startServer(t, rpc.Config{MaxFrameSize: maxFrame}, func(s *rpc.Server) { registerProbe(s) })
	other := dial(t, s)
	c := dial(t, s)
	blanks := strings.Repeat(" ", 64<<10)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // keep sending until the server closes: 16 MiB at most
		defer close(done)
		c.nc.SetWriteDeadline(time.Now().Add(closeTimeout))
		for range 256 {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := io.WriteString(c.nc, blanks); err != nil {
				return
			}
		}
	}()
	c.expectClosed()
	close(stop)
	<-done
	waitMetric(t, s, "errors_by_kind.framing", 1, func(m rpc.Metrics) uint64 { return m.ErrorByKind.Framing })
	if held := limits(s).MemoryHeldBytes; held > 4*maxFrame {
		t.Errorf("%d bytes of the memory budget held after the blanks; want at most a few frames' worth", held)
	}
	bystanderCheck(t, other, "after blanks")
}

// TestBadInputMaxInFlightBackpressure: with MaxInFlight requests running,
// the server stops reading the connection (nothing is dropped) and resumes
// when one finishes.
func TestBadInputMaxInFlightBackpressure(t *testing.T) {
	const maxInFlight, total = 2, 5
	release := make(chan struct{})
	var started atomic.Int32
	startedCh := make(chan struct{}, total)
	s, _ := startServer(t, rpc.Config{MaxInFlight: maxInFlight}, func(s *rpc.Server) {
		registerProbe(s)
		s.Handle("block", rpc.ContextFunc(func(ctx context.Context, data json.RawMessage) (any, error) {
			started.Add(1)
			startedCh <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return json.RawMessage(data), nil
		}))
	})
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseAll)

	other := dial(t, s)
	c := dial(t, s)
	var burst strings.Builder
	for i := 0; i < total; i++ {
		burst.WriteString(reqFrame(`"block"`, strconv.Itoa(i), strconv.Itoa(i)))
	}
	c.write(burst.String())

	for i := 0; i < maxInFlight; i++ {
		select {
		case <-startedCh:
		case <-time.After(ioTimeout):
			t.Fatalf("only %d handlers started, want %d", started.Load(), maxInFlight)
		}
	}
	// Give the server every chance to (wrongly) start more.
	time.Sleep(200 * time.Millisecond)
	if n := started.Load(); n != maxInFlight {
		t.Fatalf("%d handlers running on one connection, MaxInFlight is %d", n, maxInFlight)
	}
	waitMetric(t, s, "in_flight", int64(maxInFlight), func(m rpc.Metrics) int64 { return m.InFlight })
	// MaxInFlight is per connection: others are served meanwhile.
	bystanderCheck(t, other, "while blocked")

	releaseAll()
	seen := map[string]bool{}
	for i := 0; i < total; i++ {
		f := c.readFrame()
		seen[f] = true
	}
	for i := 0; i < total; i++ {
		if want := valueReply(strconv.Itoa(i), strconv.Itoa(i)); !seen[want] {
			t.Errorf("missing reply %q; got %v", want, seen)
		}
	}
	if n := started.Load(); n != total {
		t.Errorf("%d handlers ran, want %d", n, total)
	}
	waitMetric(t, s, "in_flight", 0, func(m rpc.Metrics) int64 { return m.InFlight })
	c.expectQuiet()
}
