package wire_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/msgpattern/msgpattern/wire"
)

// appender writes one or more frames; the constructors below wrap the
// package's Append functions so that table rows stay one line long.
type appender func(dst []byte, f wire.Framing) ([]byte, error)

// raw turns a table string into raw JSON; "" stands for nil (absent).
func raw(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

func value(v, id string, disposed bool) appender {
	return func(dst []byte, f wire.Framing) ([]byte, error) {
		return wire.AppendValue(dst, f, raw(v), raw(id), disposed), nil
	}
}

func valueOf(v any, id string, disposed bool) appender {
	return func(dst []byte, f wire.Framing) ([]byte, error) {
		return wire.AppendValueOf(dst, f, v, raw(id), disposed)
	}
}

func errorReply(e, id string) appender {
	return func(dst []byte, f wire.Framing) ([]byte, error) {
		return wire.AppendError(dst, f, raw(e), raw(id)), nil
	}
}

func disposedReply(id string) appender {
	return func(dst []byte, f wire.Framing) ([]byte, error) {
		return wire.AppendDisposed(dst, f, raw(id)), nil
	}
}

func noHandler(id string) appender {
	return func(dst []byte, f wire.Framing) ([]byte, error) {
		return wire.AppendNoHandler(dst, f, raw(id)), nil
	}
}

func request(pattern, data, metadata, id string) appender {
	return func(dst []byte, f wire.Framing) ([]byte, error) {
		return wire.AppendRequest(dst, f, raw(pattern), raw(data), raw(metadata), raw(id)), nil
	}
}

func event(pattern, data, metadata string) appender {
	return func(dst []byte, f wire.Framing) ([]byte, error) {
		return wire.AppendEvent(dst, f, raw(pattern), raw(data), raw(metadata)), nil
	}
}

// seq appends the frames of several appenders one after another.
func seq(as ...appender) appender {
	return func(dst []byte, f wire.Framing) ([]byte, error) {
		var err error
		for _, a := range as {
			if dst, err = a(dst, f); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
}

// asciiFrame frames an ASCII body, whose length in units is its length in
// bytes; used for rows that have no capture to copy from.
func asciiFrame(body string) string {
	for _, c := range []byte(body) {
		if c >= 0x80 {
			panic("asciiFrame: non-ASCII body " + body)
		}
	}
	return fmt.Sprintf("%d#%s", len(body), body)
}

// replyTests hold NestJS frames copied byte for byte from captures of real
// NestJS 12 peers: ../rpc/testdata/server-v12.txt, or, for rows marked
// client-v12, a capture of a Nest 12 ClientProxy's traffic (not kept in the
// repository; the frames here are the record).
var replyTests = []struct {
	name   string
	append appender
	frames []string
}{
	{"value", value(`3`, `"id-sum"`, true), []string{`46#{"response":3,"isDisposed":true,"id":"id-sum"}`}},
	{"obs3 stream", seq(value(`1`, `"id-obs3"`, false), value(`2`, `"id-obs3"`, false), value(`3`, `"id-obs3"`, true)), []string{
		`29#{"response":1,"id":"id-obs3"}`, `29#{"response":2,"id":"id-obs3"}`, `47#{"response":3,"isDisposed":true,"id":"id-obs3"}`,
	}},
	{"value then error", seq(value(`1`, `"id-obserr"`, false), errorReply(`{"status":"error","message":"late"}`, `"id-obserr"`)), []string{
		`31#{"response":1,"id":"id-obserr"}`, `78#{"err":{"status":"error","message":"late"},"isDisposed":true,"id":"id-obserr"}`,
	}},
	{"stream of strings", seq(value(`"a"`, `"id-pobs"`, false), value(`"b"`, `"id-pobs"`, true)), []string{
		`31#{"response":"a","id":"id-pobs"}`, `49#{"response":"b","isDisposed":true,"id":"id-pobs"}`,
	}},
	{"late completion", seq(value(`"first"`, `"id-late"`, false), disposedReply(`"id-late"`)), []string{
		`35#{"response":"first","id":"id-late"}`, `34#{"isDisposed":true,"id":"id-late"}`,
	}},
	{"empty stream", disposedReply(`"id-empty"`), []string{`35#{"isDisposed":true,"id":"id-empty"}`}},
	{"unicode value", value(`"héllo 😀"`, `"id-uni"`, true), []string{`55#{"response":"héllo 😀","isDisposed":true,"id":"id-uni"}`}},
	{"unicode value (client-v12)", value(`"héllo 😀"`, `"4b9d5f2d26dc3c747072e"`, true), []string{`70#{"response":"héllo 😀","isDisposed":true,"id":"4b9d5f2d26dc3c747072e"}`}},
	{"null value", value(`null`, `"id-rnull"`, true), []string{`51#{"response":null,"isDisposed":true,"id":"id-rnull"}`}},
	{"numeric id", value(`7`, `7`, true), []string{`39#{"response":7,"isDisposed":true,"id":7}`}},
	{"null id", value(`2`, `null`, true), []string{`42#{"response":2,"isDisposed":true,"id":null}`}},
	{"object value", value(`{"nargs":1,"pattern":null}`, `"id-ctx"`, true), []string{`71#{"response":{"nargs":1,"pattern":null},"isDisposed":true,"id":"id-ctx"}`}},
	{"three replies (pipelined)", seq(value(`1`, `"a"`, true), value(`2`, `"b"`, true), value(`3`, `"c"`, true)), []string{
		`41#{"response":1,"isDisposed":true,"id":"a"}`, `41#{"response":2,"isDisposed":true,"id":"b"}`, `41#{"response":3,"isDisposed":true,"id":"c"}`,
	}},

	{"no handler", noHandler(`"id-null"`), []string{`109#{"id":"id-null","status":"error","err":"There is no matching message handler defined in the remote service."}`}},
	{"no handler, longer id", noHandler(`"id-null2"`), []string{`110#{"id":"id-null2","status":"error","err":"There is no matching message handler defined in the remote service."}`}},
	{"no handler (client-v12)", noHandler(`"d5f2d26dc3c747072e72d"`), []string{`123#{"id":"d5f2d26dc3c747072e72d","status":"error","err":"There is no matching message handler defined in the remote service."}`}},

	{"RpcException(msg)", errorReply(`{"status":"error","message":"msg"}`, `"id-rpcerr"`), []string{`77#{"err":{"status":"error","message":"msg"},"isDisposed":true,"id":"id-rpcerr"}`}},
	{"RpcException(object)", errorReply(`{"status":400,"message":"bad"}`, `"id-rpcobj"`), []string{`73#{"err":{"status":400,"message":"bad"},"isDisposed":true,"id":"id-rpcobj"}`}},
	{"RpcException(123)", errorReply(`{"status":"error","message":123}`, `"id-rpcnum"`), []string{`75#{"err":{"status":"error","message":123},"isDisposed":true,"id":"id-rpcnum"}`}},
	{"plain Error", errorReply(`{"status":"error","message":"Internal server error"}`, `"id-plain"`), []string{`94#{"err":{"status":"error","message":"Internal server error"},"isDisposed":true,"id":"id-plain"}`}},
	{"error (client-v12)", errorReply(`{"status":"error","message":"x"}`, `"9d5f2d26dc3c747072e72"`), []string{`87#{"err":{"status":"error","message":"x"},"isDisposed":true,"id":"9d5f2d26dc3c747072e72"}`}},

	{"AppendValueOf int", valueOf(3, `"id-sum"`, true), []string{`46#{"response":3,"isDisposed":true,"id":"id-sum"}`}},
	{"AppendValueOf string", valueOf("sum2:3", `"id-ko1"`, true), []string{`53#{"response":"sum2:3","isDisposed":true,"id":"id-ko1"}`}},
	{"AppendValueOf unicode", valueOf("héllo 😀", `"id-uni"`, true), []string{`55#{"response":"héllo 😀","isDisposed":true,"id":"id-uni"}`}},
	{"AppendValueOf nil", valueOf(nil, `"id-rnull"`, true), []string{`51#{"response":null,"isDisposed":true,"id":"id-rnull"}`}},
	{"AppendValueOf map", valueOf(map[string]any{"nargs": 1, "pattern": nil}, `"id-ctx"`, true), []string{`71#{"response":{"nargs":1,"pattern":null},"isDisposed":true,"id":"id-ctx"}`}},
	{"AppendValueOf stream", seq(valueOf(1, `"id-obs3"`, false), valueOf(2.0, `"id-obs3"`, false), valueOf(json.RawMessage(`3`), `"id-obs3"`, true)), []string{
		`29#{"response":1,"id":"id-obs3"}`, `29#{"response":2,"id":"id-obs3"}`, `47#{"response":3,"isDisposed":true,"id":"id-obs3"}`,
	}},

	// Requests and events as a Nest ClientProxy writes them.
	{"request", request(`"sum"`, `[1,2]`, "", `"id-sum"`), []string{sumFrame}},
	{"request with object pattern (client-v12)", request(`{"cmd":"sum"}`, `[1,2]`, "", `"9ca4b9d5f2d26dc3c7470"`), []string{`67#{"pattern":{"cmd":"sum"},"data":[1,2],"id":"9ca4b9d5f2d26dc3c7470"}`}},
	{"unicode request (client-v12)", request(`"unicode"`, `"héllo 😀"`, "", `"4b9d5f2d26dc3c747072e"`), []string{`68#{"pattern":"unicode","data":"héllo 😀","id":"4b9d5f2d26dc3c747072e"}`}},
	{"request with metadata (metadata-v12)", request(`"sum"`, `[1,2]`, `{"traceparent":"00-abc-def-01"}`, `"a920cc750369a8323f19e"`), []string{
		`102#{"pattern":"sum","data":[1,2],"metadata":{"traceparent":"00-abc-def-01"},"id":"a920cc750369a8323f19e"}`,
	}},
	{"event", event(`"evt"`, `{"a":1}`, ""), []string{`32#{"pattern":"evt","data":{"a":1}}`}},
	{"event with metadata (metadata-v12)", event(`"{\"cmd\":\"evt\"}"`, `1`, `{"traceparent":"00-abc-def-01"}`), []string{
		`83#{"pattern":"{\"cmd\":\"evt\"}","data":1,"metadata":{"traceparent":"00-abc-def-01"}}`,
	}},

	// No capture: a nil id (possible on line framing) omits the member;
	// nil data is sent as null.
	{"value, nil id", value(`3`, "", true), []string{asciiFrame(`{"response":3,"isDisposed":true}`)}},
	{"value not disposed, nil id", value(`3`, "", false), []string{asciiFrame(`{"response":3}`)}},
	{"disposed, nil id", disposedReply(""), []string{asciiFrame(`{"isDisposed":true}`)}},
	{"error, nil id", errorReply(`{"status":"error","message":"x"}`, ""), []string{asciiFrame(`{"err":{"status":"error","message":"x"},"isDisposed":true}`)}},
	{"no handler, nil id", noHandler(""), []string{asciiFrame(`{"status":"error","err":"There is no matching message handler defined in the remote service."}`)}},
	{"request, nil data", request(`"x"`, "", "", `1`), []string{asciiFrame(`{"pattern":"x","data":null,"id":1}`)}},
	{"request with id null", request(`"sum"`, `[1,1]`, "", `null`), []string{`40#{"pattern":"sum","data":[1,1],"id":null}`}},
}

// TestAppendReplies writes each row in both framings after some bytes that
// must be kept, compares with the captured frames, and reads the result
// back with the matching scanner.
func TestAppendReplies(t *testing.T) {
	t.Parallel()
	const prefix = "kept"
	for _, tt := range replyTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var bodies []string
			for _, fr := range tt.frames {
				bodies = append(bodies, fr[strings.IndexByte(fr, '#')+1:])
			}

			got, err := tt.append([]byte(prefix), wire.NestJS)
			if err != nil {
				t.Fatalf("NestJS framing: %v", err)
			}
			if want := prefix + strings.Join(tt.frames, ""); string(got) != want {
				t.Errorf("NestJS framing:\n got  %q\n want %q", got, want)
			}
			checkRoundTrip(t, &wire.FrameScanner{}, got[len(prefix):], bodies)

			got, err = tt.append([]byte(prefix), wire.NDJSON)
			if err != nil {
				t.Fatalf("NDJSON framing: %v", err)
			}
			if want := prefix + strings.Join(bodies, "\n") + "\n"; string(got) != want {
				t.Errorf("NDJSON framing:\n got  %q\n want %q", got, want)
			}
			checkRoundTrip(t, &wire.LineScanner{}, got[len(prefix):], bodies)
		})
	}
}

// checkRoundTrip reads frames back and expects exactly the given bodies,
// each valid JSON, and nothing left over.
func checkRoundTrip(t *testing.T, sc wire.Scanner, stream []byte, bodies []string) {
	t.Helper()
	got := scanChunks(sc, stream)
	if got.err != nil || got.rest != 0 || len(got.frames) != len(bodies) {
		t.Errorf("read back %T: %v; want %d frames and nothing left", sc, got, len(bodies))
		return
	}
	for i, f := range got.frames {
		if f.Body != bodies[i] || f.Invalid {
			t.Errorf("read back %T frame %d: %q (invalid %t), want %q", sc, i, f.Body, f.Invalid, bodies[i])
		}
		if !json.Valid([]byte(f.Body)) {
			t.Errorf("read back %T frame %d: %q is not valid JSON", sc, i, f.Body)
		}
	}
}

func TestAppendValueOfError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    any
	}{
		{"NaN", math.NaN()},
		{"+Inf", math.Inf(1)},
		{"invalid raw JSON", json.RawMessage(`{"a":`)},
		{"raw JSON with two values", json.RawMessage(`1 2`)},
		{"channel", make(chan int)},
		{"NaN in a map", map[string]float64{"x": math.NaN()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, f := range []wire.Framing{wire.NestJS, wire.NDJSON} {
				dst := make([]byte, 0, 256)
				dst = append(dst, sumFrame...)
				got, err := wire.AppendValueOf(dst, f, tt.v, []byte(`"x"`), true)
				if err == nil {
					t.Errorf("%v: AppendValueOf(%#v) = %q, nil; want an error", f, tt.v, got)
				}
				if string(got) != sumFrame {
					t.Errorf("%v: after the error dst = %q, want it unchanged: %q", f, got, sumFrame)
				}
			}
		})
	}
}

// TestMarkDisposed checks that turning a value frame into the disposed one
// gives the same bytes as writing the disposed frame directly. Values range
// over sizes that make the header grow a digit (a body of 82..99 units
// becomes 100..117), with ASCII and non-ASCII values and ids, after other
// frames or none, with and without spare capacity.
func TestMarkDisposed(t *testing.T) {
	t.Parallel()
	ids := []string{`"x"`, `7`, `null`, "", `"a920cc750369a8323f19e"`, `"héllo"`, `"😀😀"`}
	fills := []string{"a", "é", "😀", "中"}
	prefixes := []string{"", sumFrame}
	grew := 0
	for _, f := range []wire.Framing{wire.NestJS, wire.NDJSON} {
		for _, id := range ids {
			for _, fill := range fills {
				for n := 0; n <= 110; n++ {
					v := []byte(`"` + strings.Repeat(fill, n) + `"`)
					for _, prefix := range prefixes {
						for _, spare := range []int{0, 64} {
							name := fmt.Sprintf("%v id=%s value=%d×%q prefix=%d spare=%d", f, id, n, fill, len(prefix), spare)
							start := len(prefix)
							dst := wire.AppendValue([]byte(prefix), f, v, raw(id), false)
							dst = append(dst, make([]byte, spare)...)[:len(dst)]
							if spare == 0 {
								dst = slices.Clip(dst)
							}
							before := len(dst)
							got := wire.MarkDisposed(dst, f, start, raw(id))
							want := wire.AppendValue([]byte(prefix), f, v, raw(id), true)
							if !bytes.Equal(got, want) {
								t.Fatalf("%s:\n got  %q\n want %q", name, got, want)
							}
							if f == wire.NestJS && len(got)-before > len(`,"isDisposed":true`) {
								grew++
							}
						}
					}
				}
			}
		}
	}
	if grew == 0 {
		t.Error("no case made the header grow a digit")
	}
}

// TestMarkDisposedAfterAppendValueOf covers the path the rpc package takes:
// the value is encoded straight into the buffer, then marked.
func TestMarkDisposedAfterAppendValueOf(t *testing.T) {
	t.Parallel()
	for _, v := range []any{3, "héllo 😀", strings.Repeat("x", 80), map[string]any{"k": []int{1, 2}}} {
		for _, f := range []wire.Framing{wire.NestJS, wire.NDJSON} {
			dst, err := wire.AppendValueOf([]byte(sumFrame), f, v, []byte(`"id-1"`), false)
			if err != nil {
				t.Fatal(err)
			}
			got := wire.MarkDisposed(dst, f, len(sumFrame), []byte(`"id-1"`))
			want, err := wire.AppendValueOf([]byte(sumFrame), f, v, []byte(`"id-1"`), true)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%v %#v:\n got  %q\n want %q", f, v, got, want)
			}
		}
	}
}

func TestAppendFrame(t *testing.T) {
	t.Parallel()
	tests := []struct {
		f    wire.Framing
		body string
		want string
	}{
		{wire.NestJS, sumBody, sumFrame},
		{wire.NestJS, uniBody, uniFrame},
		{wire.NestJS, "", "0#"},
		{wire.NDJSON, uniBody, uniBody + "\n"},
		{wire.NDJSON, "", "\n"},
	}
	for _, tt := range tests {
		if got := wire.AppendFrame([]byte("kept"), tt.f, []byte(tt.body)); string(got) != "kept"+tt.want {
			t.Errorf("AppendFrame(%v, %q) = %q, want %q", tt.f, tt.body, got, "kept"+tt.want)
		}
	}
	for units, want := range map[int]string{0: "0#", 9: "9#", 10: "10#", 134217728: "134217728#"} {
		if got := wire.AppendHeader(nil, units); string(got) != want {
			t.Errorf("AppendHeader(%d) = %q, want %q", units, got, want)
		}
	}
}

// TestStartEndFrame builds bodies of every header width between StartFrame
// and EndFrame, the way a caller with its own encoder does.
func TestStartEndFrame(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 9, 10, 99, 100, 999, 1000, 100000} {
		for _, fill := range []string{"a", "é", "😀"} {
			body := strings.Repeat(fill, n)
			dst, start := wire.StartFrame([]byte("kept"), wire.NestJS)
			if start != 4 {
				t.Fatalf("StartFrame returned start %d, want 4", start)
			}
			dst = append(dst, body...)
			got := wire.EndFrame(dst, wire.NestJS, start)
			want := fmt.Sprintf("kept%d#%s", n*len([]rune(fill))*map[string]int{"a": 1, "é": 1, "😀": 2}[fill], body)
			if string(got) != want {
				t.Errorf("%d×%q: got %.40q…, want %.40q…", n, fill, got, want)
			}
		}
	}
	dst, start := wire.StartFrame([]byte("kept"), wire.NDJSON)
	dst = append(dst, "{}"...)
	if got := wire.EndFrame(dst, wire.NDJSON, start); string(got) != "kept{}\n" {
		t.Errorf(`NDJSON StartFrame/EndFrame = %q, want "kept{}\n"`, got)
	}
}

// TestUnframed: Unframed packets are the bare JSON, for message
// transports (NATS), and MarkDisposed works on them as on framed ones.
func TestUnframed(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{string(wire.AppendValue(nil, wire.Unframed, []byte(`1`), []byte(`"a"`), true)), `{"response":1,"isDisposed":true,"id":"a"}`},
		{string(wire.AppendError(nil, wire.Unframed, []byte(`"x"`), []byte(`2`))), `{"err":"x","isDisposed":true,"id":2}`},
		{string(wire.AppendDisposed(nil, wire.Unframed, []byte(`3`))), `{"isDisposed":true,"id":3}`},
		{string(wire.MarkDisposed(wire.AppendValue(nil, wire.Unframed, []byte(`"é"`), []byte(`4`), false), wire.Unframed, 0, []byte(`4`))), `{"response":"é","isDisposed":true,"id":4}`},
		{string(wire.AppendFrame(nil, wire.Unframed, []byte(`{}`))), `{}`},
		{wire.Unframed.String(), "unframed"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

// TestAppendValueOfInvalidUTF8Nested: invalid UTF-8 that reaches a reply
// through encoding/json (a nested json.RawMessage, a Marshaler's output)
// is replaced as a NestJS peer decodes it, so the frame's length, in
// UTF-16 units of the decoded text, is the one the peer counts. It once
// went out as it was: 0xFF counted 2 units here and 1 (U+FFFD) in node,
// and the peer's stream lost its framing.
func TestAppendValueOfInvalidUTF8Nested(t *testing.T) {
	t.Parallel()
	type wrapped struct {
		R json.RawMessage `json:"r"`
	}
	for _, v := range []any{
		wrapped{json.RawMessage("\"\xff\"")},
		wrapped{json.RawMessage("\"\xe2\x82x\"")},
		&[]json.RawMessage{json.RawMessage("\"\xf0\x9f\x98\"")}[0],
		map[string]json.RawMessage{"a": json.RawMessage("\"\xff\xff\xff\"")},
		[]json.RawMessage{json.RawMessage("\"\xc0\x80\"")},
	} {
		frame, err := wire.AppendValueOf(nil, wire.NestJS, v, []byte(`1`), true)
		if err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		header, body, _ := strings.Cut(string(frame), "#")
		if !utf8.ValidString(body) {
			t.Errorf("%#v: the frame's body is not valid UTF-8: %q", v, body)
			continue
		}
		if units := len(utf16.Encode([]rune(body))); header != strconv.Itoa(units) {
			t.Errorf("%#v: header %s, body of %d UTF-16 units: %q", v, header, units, body)
		}
		if !json.Valid([]byte(body)) {
			t.Errorf("%#v: the body is not JSON: %q", v, body)
		}
	}
}
