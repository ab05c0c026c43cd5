package rpc_test

// Shared helpers of the black-box tests of package rpc: a server started on
// a free port with the handlers of the NestJS probe server the captures in
// testdata/server-v*.txt came from, and a raw TCP client that writes and
// reads NestJS frames byte for byte.
//
// The framing arithmetic here is written independently of package wire on
// purpose, so that a bug there cannot hide itself in the expectations.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"

	"go.uber.org/goleak"

	"github.com/msgpattern/msgpattern/rpc"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Generous bounds: machines running -race under load are slow. No test
// asserts a lower bound on any duration.
const (
	ioTimeout    = 5 * time.Second        // one read or write
	closeTimeout = 5 * time.Second        // a connection the server should close
	quietWindow  = 150 * time.Millisecond // "nothing more arrives" checks
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startServer starts a server on a free loopback port with cfg (Addr is
// filled in), lets register add handlers, and shuts it down at cleanup. The
// returned stop function shuts it down once; later calls return nil, so a
// test may stop the server itself.
func startServer(t testing.TB, cfg rpc.Config, register func(s *rpc.Server)) (*rpc.Server, func() error) {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	// Rate limiting and retries are on by default (the original API's
	// defaults); tests that are not about them turn them off so that load
	// and error cases stay simple. Tests about them set the fields.
	if cfg.RateLimitPerSec == 0 {
		cfg.RateLimitPerSec = -1
	}
	if cfg.RetryAttempts == 0 {
		cfg.RetryAttempts = -1
	}
	s := rpc.NewServer(&cfg, discardLogger())
	if register != nil {
		register(s)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			stopErr = s.Shutdown(ctx)
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Shutdown at cleanup: %v", err)
		}
	})
	return s, stop
}

// ---------------------------------------------------------------------------
// The probe handlers.

// probe records what the probe handlers saw.
type probe struct {
	events chan string          // "<route>=<data>" of every event received
	echoed chan json.RawMessage // the raw data every "echo" request received
}

// registerProbe registers handlers equivalent to the NestJS probe server
// that produced server-v*.txt, plus nothing else.
func registerProbe(s *rpc.Server) *probe {
	p := &probe{events: make(chan string, 1024), echoed: make(chan json.RawMessage, 1024)}

	sum := func(in []float64) float64 {
		var n float64
		for _, v := range in {
			n += v
		}
		return n
	}
	// "sum" also answers {cmd:"sum"} through the server's cmd convenience:
	// the probe registered {cmd:"sum"} separately, we deliberately do not.
	s.Handle("sum", rpc.Typed(func(_ context.Context, in []float64) (float64, error) { return sum(in), nil }))
	s.Handle(map[string]any{"cmd": "sum2", "role": "math"}, rpc.Typed(func(_ context.Context, in []float64) (string, error) {
		return "sum2:" + strconv.FormatFloat(sum(in), 'f', -1, 64), nil
	}))
	s.Handle(map[string]any{"cmd": "nested", "opts": map[string]any{"a": "x", "z": 1}},
		rpc.Func(func(json.RawMessage) (any, error) { return "nested-ok", nil }))
	s.Handle(42, rpc.Func(func(json.RawMessage) (any, error) { return "forty-two", nil }))
	// The original registration API, to cover it too.
	rpc.NewServerWrapper(s).MessagePattern("promise", func(json.RawMessage) (interface{}, error) { return 42, nil })
	s.Handle("obs3", rpc.Stream(func(context.Context, json.RawMessage) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			for i := 1; i <= 3; i++ {
				if !yield(i, nil) {
					return
				}
			}
		}
	}))
	s.Handle("obsLateComplete", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
		before := s.GetMetrics().BytesOut
		if err := w.Send("first"); err != nil {
			return err
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		// The capture (two frames) assumes the value left before the
		// completion. Our server flushes a value sent by a handler that is
		// still running once the handler is moved off the connection's
		// reader, normally within a millisecond; on a starved machine
		// (-race, 2 CPUs, parallel tests) that can take longer than 50ms,
		// and the completion then rides on the value. So complete only
		// once the value is out (bytes_out grew), up to a generous bound.
		// Nothing else writes to this server while the section runs.
		for end := time.Now().Add(ioTimeout); s.GetMetrics().BytesOut == before && time.Now().Before(end); {
			time.Sleep(time.Millisecond)
		}
		return nil
	}))
	s.Handle("empty", rpc.Stream(func(context.Context, json.RawMessage) iter.Seq2[int, error] {
		return func(func(int, error) bool) {}
	}))
	s.Handle("undef", rpc.HandlerFunc(func(context.Context, rpc.ResponseWriter, *rpc.Request) error { return nil }))
	// Registered as the string "null", like @MessagePattern("null"): no
	// request can ever reach it.
	s.Handle("null", rpc.Func(func(json.RawMessage) (any, error) { return nil, nil }))
	s.Handle("returnsNull", rpc.Func(func(json.RawMessage) (any, error) { return nil, nil }))
	s.Handle("rpcerr", rpc.Func(func(json.RawMessage) (any, error) { return nil, rpc.NewError("msg") }))
	s.Handle("rpcerrobj", rpc.Func(func(json.RawMessage) (any, error) {
		// A struct, not a map: a map would marshal its keys sorted
		// ("message" before "status"), unlike the capture.
		e, err := rpc.NewErrorObject(struct {
			Status  int    `json:"status"`
			Message string `json:"message"`
		}{400, "bad"})
		if err != nil {
			return nil, err
		}
		return nil, e
	}))
	s.Handle("rpcerrnum", rpc.Func(func(json.RawMessage) (any, error) {
		return nil, &rpc.Error{Message: "123", Payload: json.RawMessage(`{"status":"error","message":123}`)}
	}))
	s.Handle("plainerr", rpc.Func(func(json.RawMessage) (any, error) { return nil, errors.New("boom") }))
	s.Handle("obserr", rpc.Stream(func(context.Context, json.RawMessage) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			if !yield(1, nil) {
				return
			}
			yield(0, rpc.NewError("late"))
		}
	}))
	s.Handle("promiseObs", rpc.Stream(func(context.Context, json.RawMessage) iter.Seq2[string, error] {
		return func(yield func(string, error) bool) {
			if yield("a", nil) {
				yield("b", nil)
			}
		}
	}))
	s.Handle("slow", rpc.Typed(func(ctx context.Context, in string) (string, error) {
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return "slow:" + in, nil
	}))
	// Unary (rpc.Func): the reply is one frame whatever the scheduling. A
	// handler that calls w.Send and returns produces either that frame or
	// a value frame and then {"isDisposed":true}, depending on whether the
	// value left before the handler returned.
	s.Handle("echo", rpc.Func(func(data json.RawMessage) (any, error) {
		select {
		case p.echoed <- append(json.RawMessage(nil), data...):
		default:
		}
		return data, nil
	}))
	event := func(name string) rpc.Handler {
		return rpc.HandlerFunc(func(_ context.Context, _ rpc.ResponseWriter, r *rpc.Request) error {
			select {
			case p.events <- name + "=" + string(r.Data):
			default:
			}
			return nil
		})
	}
	s.HandleEvent("evt", event("evt"))
	s.HandleEvent(map[string]any{"cmd": "evt"}, event(`{"cmd":"evt"}`))
	return p
}

// ---------------------------------------------------------------------------
// Framing, written independently of package wire.

// nestUnits is JavaScript's string.length of s, which must be valid UTF-8.
func nestUnits(s string) int { return len(utf16.Encode([]rune(s))) }

// frame frames body (valid UTF-8) as "<units>#<body>".
func frame(body string) string { return strconv.Itoa(nestUnits(body)) + "#" + body }

// frameUnits frames body with an explicit length, for bodies holding invalid
// UTF-8 whose length the test computes itself.
func frameUnits(units int, body string) string { return strconv.Itoa(units) + "#" + body }

// reqBody is a request body in a NestJS client's key order; pattern, data
// and id are raw JSON; an empty id makes it an event.
func reqBody(pattern, data, id string) string {
	b := `{"pattern":` + pattern + `,"data":` + data
	if id != "" {
		b += `,"id":` + id
	}
	return b + "}"
}

func reqFrame(pattern, data, id string) string { return frame(reqBody(pattern, data, id)) }

// The replies a NestJS server sends, framed; value, err and id are raw JSON.
func valueReply(value, id string) string {
	return frame(`{"response":` + value + `,"isDisposed":true,"id":` + id + `}`)
}
func partReply(value, id string) string { return frame(`{"response":` + value + `,"id":` + id + `}`) }
func errReply(err, id string) string {
	return frame(`{"err":` + err + `,"isDisposed":true,"id":` + id + `}`)
}

const noHandlerText = "There is no matching message handler defined in the remote service."

func noHandlerReply(id string) string {
	return frame(`{"id":` + id + `,"status":"error","err":"` + noHandlerText + `"}`)
}

const internalError = `{"status":"error","message":"Internal server error"}`

// ---------------------------------------------------------------------------
// A raw client.

type client struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, s *rpc.Server) *client {
	t.Helper()
	addr := s.Addr()
	if addr == nil {
		t.Fatal("server has no address")
	}
	nc, err := net.DialTimeout("tcp", addr.String(), ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *client) close() { c.nc.Close() }

// with returns c reporting to t, for use in a subtest: t.Fatal must be
// called on the test that runs the goroutine.
func (c *client) with(t testing.TB) *client {
	cc := *c
	cc.t = t
	return &cc
}

// write writes s in one Write call.
func (c *client) write(s string) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("write %q: %v", clip(s), err)
	}
}

// readFrameErr reads one NestJS frame and returns it whole, header included.
func (c *client) readFrameErr(timeout time.Duration) (string, error) {
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	return readNestFrame(c.br)
}

// readFrame reads one frame, failing the test if none comes.
func (c *client) readFrame() string {
	c.t.Helper()
	f, err := c.readFrameErr(ioTimeout)
	if err != nil {
		c.t.Fatalf("reading a frame: %v (got %q)", err, clip(f))
	}
	return f
}

// expectFrame reads one frame and compares it with want, byte for byte.
func (c *client) expectFrame(want string) {
	c.t.Helper()
	if got := c.readFrame(); got != want {
		c.t.Fatalf("reply mismatch\n got: %q\nwant: %q", got, want)
	}
}

// call sends a request and checks that the next frame is want.
func (c *client) call(pattern, data, id, want string) {
	c.t.Helper()
	c.write(reqFrame(pattern, data, id))
	c.expectFrame(want)
}

// readLine reads one newline-terminated line (line framing), newline included.
func (c *client) readLine() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	l, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("reading a line: %v (got %q)", err, clip(l))
	}
	return l
}

// closedErr reports whether err means the peer closed the connection: EOF,
// or a reset (the server closing with our bytes unread).
func closedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

// expectClosed asserts that the server closes the connection within
// closeTimeout without sending anything (more).
func (c *client) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(closeTimeout))
	b, err := io.ReadAll(c.br)
	if len(b) > 0 {
		c.t.Errorf("unexpected bytes before close: %q", clip(string(b)))
	}
	switch {
	case err == nil: // ReadAll maps EOF to nil
	case closedErr(err):
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.t.Fatalf("connection still open after %v; expected the server to close it", closeTimeout)
	default:
		c.t.Fatalf("unexpected read error waiting for close: %v", err)
	}
}

// expectQuiet asserts that nothing arrives for quietWindow and the
// connection stays open.
func (c *client) expectQuiet() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(quietWindow))
	b, err := c.br.ReadByte()
	switch {
	case err == nil:
		rest, _ := c.br.Peek(c.br.Buffered())
		c.t.Fatalf("unexpected extra bytes: %q", clip(string(b)+string(rest)))
	case errors.Is(err, os.ErrDeadlineExceeded):
	case closedErr(err):
		c.t.Fatalf("server closed the connection, expected it to stay open")
	default:
		c.t.Fatalf("unexpected read error: %v", err)
	}
}

// readNestFrame reads one "<len>#<body>" frame, the length counting UTF-16
// units of the body; the body must be valid UTF-8 (replies always are).
func readNestFrame(br *bufio.Reader) (string, error) {
	var hdr []byte
	for {
		b, err := br.ReadByte()
		if err != nil {
			return string(hdr), err
		}
		hdr = append(hdr, b)
		if b == '#' {
			break
		}
		if b < '0' || b > '9' || len(hdr) > 12 {
			return string(hdr), fmt.Errorf("bad frame header %q", hdr)
		}
	}
	want, err := strconv.Atoi(string(hdr[:len(hdr)-1]))
	if err != nil {
		return string(hdr), fmt.Errorf("bad frame header %q", hdr)
	}
	out := hdr
	units := 0
	for units < want {
		b, err := br.ReadByte()
		if err != nil {
			return string(out), err
		}
		out = append(out, b)
		// Count a character once all its bytes are in.
		size, u := 1, 1
		switch {
		case b >= 0xF0:
			size, u = 4, 2
		case b >= 0xE0:
			size = 3
		case b >= 0xC0:
			size = 2
		case b >= 0x80:
			return string(out), fmt.Errorf("invalid UTF-8 in reply %q", out)
		}
		for i := 1; i < size; i++ {
			b, err := br.ReadByte()
			if err != nil {
				return string(out), err
			}
			out = append(out, b)
		}
		units += u
	}
	if units != want {
		return string(out), fmt.Errorf("frame %q: length %d splits a surrogate pair", out, want)
	}
	return string(out), nil
}

// waitMetric waits until get(metrics) == want.
func waitMetric[T comparable](t testing.TB, s *rpc.Server, name string, want T, get func(rpc.Metrics) T) {
	t.Helper()
	var last T
	deadline := time.Now().Add(ioTimeout)
	for {
		last = get(s.GetMetrics())
		if last == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metric %s = %v, want %v", name, last, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// bystanderCheck asserts that a well-behaved connection is served.
func bystanderCheck(t testing.TB, c *client, tag string) {
	t.Helper()
	id := strconv.Quote("by-" + tag)
	c.with(t).call(`"sum"`, `[20,22]`, id, valueReply(`42`, id))
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// sendToFakeReplier makes one call of data 1 to a fakeReplier answering
// reply, and returns what Send gave.
func sendToFakeReplier(t *testing.T, reply string) (json.RawMessage, error) {
	t.Helper()
	c, err := rpc.NewClient(fakeReplier(t, reply))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out json.RawMessage
	err = c.Send(ctx, "x", 1, &out)
	return out, err
}

// fakeReplier accepts one connection and answers every request frame with
// reply, "ID" in it replaced by the request's id: a server sending replies
// ours never would. Heartbeats go unanswered.
func fakeReplier(t *testing.T, reply string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		br := bufio.NewReader(nc)
		for {
			f, err := readNestFrame(br)
			if err != nil {
				return
			}
			var req struct {
				ID      json.RawMessage
				Pattern string
			}
			if json.Unmarshal([]byte(f[strings.IndexByte(f, '#')+1:]), &req) != nil {
				return
			}
			if req.Pattern == "msgpattern:heartbeat" {
				continue
			}
			nc.Write([]byte(frame(strings.Replace(reply, "ID", string(req.ID), 1))))
		}
	}()
	return ln.Addr().String()
}

// shutdownBegun starts a graceful Shutdown (30 s to drain) in a goroutine,
// its result to go to shut, and returns once it has begun: Start is refused.
func shutdownBegun(s *rpc.Server, shut chan<- error) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	for !errors.Is(s.Start(), rpc.ErrServerClosed) {
		time.Sleep(time.Millisecond)
	}
}

// goroutinesIn counts the goroutines whose stack holds fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}

// deadAddr is a local address nothing listens on: every dial to it is
// refused at once.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
