package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// recorder is a transport's ReplyWriter that records the packets.
type recorder struct {
	mu      sync.Mutex
	packets []string
	lasts   []bool
	fail    error // returned by every WriteReply when set
	got     chan string
}

func newRecorder() *recorder { return &recorder{got: make(chan string, 100)} }

func (r *recorder) WriteReply(packet []byte, last bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.packets = append(r.packets, string(packet))
	r.lasts = append(r.lasts, last)
	r.got <- string(packet)
	return nil
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.packets...)
}

// TestDispatchPolicies: a transport's messages get the core's policy, with
// the same bytes as TCP, unframed.
func TestDispatchPolicies(t *testing.T) {
	t.Parallel()
	s := rpc.NewServer(&rpc.Config{RateLimitPerSec: 1, RateLimitBurst: 1, RetryAttempts: -1}, discardLogger())
	registerProbe(s)
	s.Handle("ticks", rpc.Stream(func(context.Context, json.RawMessage) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			for i := 3; i >= 1; i-- {
				if !yield(i, nil) {
					return
				}
			}
		}
	}))
	ctx := context.Background()
	dispatch := func(peer *rpc.Peer, packet, route string) []string {
		w := newRecorder()
		if err := s.Dispatch(ctx, rpc.Message{Packet: []byte(packet), Route: route, Peer: peer}, w); err != nil {
			t.Errorf("Dispatch(%s): %v", packet, err)
		}
		return w.all()
	}
	for _, tc := range []struct {
		name, packet, route string
		want                []string
	}{
		{"request", `{"pattern":"sum","data":[1,2],"id":"a"}`, "", []string{`{"response":3,"isDisposed":true,"id":"a"}`}},
		{"routed by the transport", `{"data":[4],"id":2}`, "sum", []string{`{"response":4,"isDisposed":true,"id":2}`}},
		{"cmd convenience", `{"pattern":{"cmd":"sum"},"data":[5],"id":3}`, "", []string{`{"response":5,"isDisposed":true,"id":3}`}},
		{"stream, completion on the last value", `{"pattern":"ticks","data":null,"id":4}`, "",
			[]string{`{"response":3,"id":4}`, `{"response":2,"id":4}`, `{"response":1,"isDisposed":true,"id":4}`}},
		{"no handler", `{"pattern":"nope","data":null,"id":5}`, "",
			[]string{`{"id":5,"status":"error","err":"There is no matching message handler defined in the remote service."}`}},
		{"missing pattern", `{"data":null,"id":6}`, "", []string{`{"err":{"status":"error","message":"rpc: the request has no pattern"},"isDisposed":true,"id":6}`}},
		{"rpc error", `{"pattern":"rpcerr","data":null,"id":7}`, "", []string{`{"err":{"status":"error","message":"msg"},"isDisposed":true,"id":7}`}},
		{"event: no reply", `{"pattern":"evt","data":1}`, "", nil},
	} {
		// Each case from a peer of its own: the rate limit (1/s) is per peer.
		got := dispatch(s.NewPeer("fake", nil), tc.packet, tc.route)
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
	peer := s.NewPeer("fake", nil)
	dispatch(peer, `{"pattern":"sum","data":[1],"id":1}`, "")
	if got := dispatch(peer, `{"pattern":"sum","data":[1],"id":2}`, ""); len(got) != 1 || !strings.Contains(got[0], "Rate limit exceeded") {
		t.Errorf("second request of a peer over 1/s: %q", got)
	}
	if err := s.Dispatch(ctx, rpc.Message{Packet: []byte(`{"pattern":`)}, newRecorder()); err == nil {
		t.Error("invalid JSON: no error")
	}
	var fake rpc.TransportMetrics
	for _, tm := range s.GetMetrics().Transports {
		if tm.Transport == "fake" {
			fake = tm
		}
	}
	if fake.Requests != 6 || fake.Events != 1 {
		t.Errorf("transport metrics %+v, want 6 requests (the ones that reached a handler) and 1 event", fake)
	}
	s.Close()
}

// TestDispatchTimeoutAtDeadline: a request dispatched by a transport is
// answered at its deadline though its handler ignores the context.
func TestDispatchTimeoutAtDeadline(t *testing.T) {
	t.Parallel()
	s := rpc.NewServer(&rpc.Config{Timeout: 100 * time.Millisecond, RetryAttempts: -1}, discardLogger())
	release := make(chan struct{})
	s.Handle("stubborn", rpc.Func(func(json.RawMessage) (any, error) { <-release; return "late", nil }))
	w := newRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Dispatch(context.Background(), rpc.Message{Packet: []byte(`{"pattern":"stubborn","data":null,"id":1}`)}, w)
	}()
	start := time.Now()
	select {
	case got := <-w.got:
		if !strings.Contains(got, "Request timed out after 100ms") {
			t.Errorf("got %s", got)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("timeout answered after %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reply at the deadline")
	}
	close(release)
	<-done
	if got := w.all(); len(got) != 1 {
		t.Errorf("the late result was written too: %q", got)
	}
	s.Close()
}

// TestDispatchWriteErrorCancels: a transport that cannot reach the caller
// makes the core stop writing and cancel the handler.
func TestDispatchWriteErrorCancels(t *testing.T) {
	t.Parallel()
	s := rpc.NewServer(&rpc.Config{RetryAttempts: -1}, discardLogger())
	cancelled := make(chan struct{})
	s.Handle("sender", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
		for i := 0; ; i++ {
			w.Send(i)
			select {
			case <-ctx.Done():
				close(cancelled)
				return ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
	}))
	w := newRecorder()
	w.fail = errors.New("caller gone")
	if err := s.Dispatch(context.Background(), rpc.Message{Packet: []byte(`{"pattern":"sender","data":null,"id":1}`)}, w); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cancelled:
	default:
		t.Error("handler not cancelled after WriteReply failed")
	}
	s.Close()
}

// TestDispatchShutdown: Shutdown runs the transports' OnShutdown hooks,
// waits for dispatches in progress, and a closed server refuses new ones.
func TestDispatchShutdown(t *testing.T) {
	t.Parallel()
	s := rpc.NewServer(&rpc.Config{RetryAttempts: -1}, discardLogger())
	s.Handle("slow", rpc.Func(func(json.RawMessage) (any, error) { time.Sleep(200 * time.Millisecond); return "done", nil }))
	hooked := make(chan struct{})
	s.OnShutdown(func(context.Context) { close(hooked) })
	w := newRecorder()
	started := make(chan struct{})
	go func() {
		close(started)
		s.Dispatch(context.Background(), rpc.Message{Packet: []byte(`{"pattern":"slow","data":null,"id":1}`)}, w)
	}()
	<-started
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hooked:
	default:
		t.Error("OnShutdown hook not called")
	}
	if got := w.all(); len(got) != 1 || !strings.Contains(got[0], `"done"`) {
		t.Errorf("in-flight dispatch not finished before Shutdown returned: %q", got)
	}
	w2 := newRecorder()
	err := s.Dispatch(context.Background(), rpc.Message{Packet: []byte(`{"pattern":"slow","data":null,"id":2}`)}, w2)
	if !errors.Is(err, rpc.ErrShuttingDown) || len(w2.all()) != 1 || !strings.Contains(w2.all()[0], "Server shutting down") {
		t.Errorf("after Shutdown: %v, %q", err, w2.all())
	}
}

// TestSendAfterReturn: a Send from another goroutine after the handler
// returned is refused, and is no data race (run with -race).
func TestSendAfterReturn(t *testing.T) {
	t.Parallel()
	s := rpc.NewServer(&rpc.Config{RetryAttempts: -1}, discardLogger())
	late := make(chan error, 1)
	s.Handle("leaky", rpc.HandlerFunc(func(_ context.Context, w rpc.ResponseWriter, _ *rpc.Request) error {
		go func() {
			time.Sleep(10 * time.Millisecond)
			late <- w.Send("too late")
		}()
		return w.Send("on time")
	}))
	w := newRecorder()
	s.Dispatch(context.Background(), rpc.Message{Packet: []byte(`{"pattern":"leaky","data":null,"id":1}`)}, w)
	if err := <-late; err == nil || !strings.Contains(err.Error(), "after the handler returned") {
		t.Errorf("Send after return: %v", err)
	}
	if got := w.all(); len(got) != 1 || got[0] != `{"response":"on time","isDisposed":true,"id":1}` {
		t.Errorf("replies %q", got)
	}
	s.Close()
}

// TestDecoder: Config.Decoder decodes typed handlers' data.
func TestDecoder(t *testing.T) {
	t.Parallel()
	var used int
	var mu sync.Mutex
	dec := rpc.DecoderFunc(func(data []byte, v any) error {
		mu.Lock()
		used++
		mu.Unlock()
		return json.Unmarshal(data, v)
	})
	s := rpc.NewServer(&rpc.Config{Decoder: dec, RetryAttempts: -1}, discardLogger())
	type order struct {
		Items []struct {
			Qty   int     `json:"qty"`
			Price float64 `json:"price"`
		} `json:"items"`
	}
	s.Handle("total", rpc.Typed(func(_ context.Context, o order) (float64, error) {
		var t float64
		for _, it := range o.Items {
			t += float64(it.Qty) * it.Price
		}
		return t, nil
	}))
	w := newRecorder()
	s.Dispatch(context.Background(), rpc.Message{Packet: []byte(`{"pattern":"total","data":{"items":[{"qty":2,"price":1.5},{"qty":1,"price":4}]},"id":1}`)}, w)
	if got := w.all(); len(got) != 1 || got[0] != `{"response":7,"isDisposed":true,"id":1}` {
		t.Errorf("got %q", got)
	}
	if used != 1 {
		t.Errorf("decoder used %d times, want 1", used)
	}
	s.Close()
}

// TestDispatchTransportRows: the metrics list each transport once. A
// transport that names its peers "tcp" is counted in TCP's row (it used
// to get a second "tcp" row, and a Prometheus scrape of duplicate labels
// failed), and messages dispatched without a peer in a row "other" (they
// were counted as TCP).
func TestDispatchTransportRows(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("ping", rpc.Func(func(json.RawMessage) (any, error) { return "pong", nil }))
	})
	ping := []byte(`{"pattern":"ping","data":null,"id":"1"}`)
	ctx := context.Background()
	for _, peer := range []*rpc.Peer{srv.NewPeer("tcp", nil), nil, nil, srv.NewPeer("queue", nil)} {
		if err := srv.Dispatch(ctx, rpc.Message{Packet: ping, Peer: peer}, newRecorder()); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]uint64{}
	for _, tm := range srv.GetMetrics().Transports {
		if _, dup := got[tm.Transport]; dup {
			t.Errorf("transport %q listed twice: %+v", tm.Transport, srv.GetMetrics().Transports)
		}
		got[tm.Transport] = tm.Requests
	}
	if want := map[string]uint64{"tcp": 1, "other": 2, "queue": 1}; !maps.Equal(got, want) {
		t.Errorf("requests by transport %v; want %v", got, want)
	}
}

// TestTransportRowsNeverDrop: the TCP row is a counter, so it must not go
// down while another transport's requests run (they are counted there as
// they arrive, in the totals as they end). It read 0 with three other
// requests running after three TCP requests, and Prometheus saw a reset.
func TestTransportRowsNeverDrop(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("ping", rpc.Func(func(json.RawMessage) (any, error) { return "pong", nil }))
		s.Handle("block", rpc.Func(func(json.RawMessage) (any, error) { <-release; return 1, nil }))
	})
	c := dial(t, srv)
	for i := range 3 {
		id := strconv.Itoa(i)
		c.call(`"ping"`, "null", id, valueReply(`"pong"`, id))
	}
	tcp := func() uint64 {
		for _, tm := range srv.GetMetrics().Transports {
			if tm.Transport == "tcp" {
				return tm.Requests
			}
		}
		t.Fatal("no tcp row")
		return 0
	}
	if got := tcp(); got != 3 {
		t.Fatalf("tcp row %d after 3 TCP requests", got)
	}
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			msg := rpc.Message{Packet: []byte(`{"pattern":"block","data":null,"id":` + strconv.Itoa(i) + `}`), Peer: srv.NewPeer("nats", nil)}
			if err := srv.Dispatch(context.Background(), msg, newRecorder()); err != nil {
				t.Error(err)
			}
		})
	}
	for srv.GetMetrics().InFlight < 3 {
		time.Sleep(time.Millisecond)
	}
	if got := tcp(); got != 3 {
		t.Errorf("tcp row %d while 3 NATS requests run, want 3", got)
	}
	close(release)
	wg.Wait()
	if got := tcp(); got != 3 {
		t.Errorf("tcp row %d after the NATS requests, want 3", got)
	}
}
