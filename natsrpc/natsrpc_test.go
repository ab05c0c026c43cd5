package natsrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestCalls: the Go client and server over NATS — typed calls, object and
// {"cmd":…} patterns, a stream, an error, an event, metadata and headers,
// and no responders answered at once.
func TestCalls(t *testing.T) {
	ns := natstest.Run(t, nil)
	startInstance(t, ns.ClientURL(), rpc.Config{})
	c := natstest.Dial(t, ns.ClientURL())
	ctx := ctxT(t, 10*time.Second)

	if got, err := rpc.Call[[]int, int](ctx, c, "sum", []int{1, 2, 3}); err != nil || got != 6 {
		t.Errorf("sum = %v, %v", got, err)
	}
	// The cmd convenience: {"cmd":"sum"} reaches "sum"'s handler.
	if got, err := rpc.Call[[]int, int](ctx, c, map[string]any{"cmd": "sum"}, []int{4}); err != nil || got != 4 {
		t.Errorf(`{"cmd":"sum"} = %v, %v`, got, err)
	}
	// An object pattern, keys in any order.
	if got, err := rpc.Call[[]int, string](ctx, c, map[string]any{"role": "math", "cmd": "sum2"}, []int{1, 2}); err != nil || got != "sum2:2" {
		t.Errorf("object pattern = %q, %v", got, err)
	}
	var ticks []int
	for v, err := range rpc.StreamOf[int](ctx, c, "ticks", nil) {
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		ticks = append(ticks, v)
	}
	if len(ticks) != 3 || ticks[0] != 3 || ticks[2] != 1 {
		t.Errorf("stream = %v, want [3 2 1]", ticks)
	}
	err := c.Send(ctx, "fail", nil, nil)
	var re *rpc.Error
	if !errors.As(err, &re) || re.Message != "it failed" {
		t.Errorf("fail: %v, want RemoteError it failed", err)
	}
	start := time.Now()
	err = c.Send(ctx, "nobody-serves-this", nil, nil)
	if !errors.Is(err, rpc.ErrNoHandler) {
		t.Errorf("unknown pattern: %v, want ErrNoHandler", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("no responders took %v", d)
	}
	if err := c.Emit(ctx, "evt", map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-events:
		if got != `{"a":1}` {
			t.Errorf("event data %s", got)
		}
	case <-time.After(5 * time.Second):
		t.Error("event not received")
	}
	// Metadata in the body (NestJS 12) and NATS headers.
	var md struct {
		Metadata  map[string]string `json:"metadata"`
		Transport string            `json:"transport"`
	}
	if err := c.Send(ctx, "meta", nil, &md, rpc.WithMetadata(map[string]string{"traceparent": "00-abc-def-01"})); err != nil {
		t.Fatal(err)
	}
	if md.Metadata["traceparent"] != "00-abc-def-01" || md.Transport != "nats" {
		t.Errorf("meta = %+v", md)
	}
	nc := connect(t, ns.ClientURL())
	req := nats.NewMsg("meta")
	req.Header.Set("X-Trace", "xyz")
	req.Data = []byte(`{"pattern":"meta","data":null,"id":"h1"}`)
	rep, err := nc.RequestMsg(req, 5*time.Second)
	if err != nil || !strings.Contains(string(rep.Data), `"header":["xyz"]`) || !strings.HasSuffix(string(rep.Data), `"id":"h1"}`) {
		t.Errorf("header: %s, %v", rep.Data, err)
	}
}

// TestWireBytes: the bytes on NATS are NestJS's: a raw NATS request gets
// exactly the reply NestJS would send, and the server routes by subject.
func TestWireBytes(t *testing.T) {
	ns := natstest.Run(t, nil)
	startInstance(t, ns.ClientURL(), rpc.Config{})
	nc := connect(t, ns.ClientURL())
	for _, tc := range []struct{ subject, body, want string }{
		{"sum", `{"pattern":"sum","data":[1,2],"id":"fbad6a108e92156ae9a46"}`, `{"response":3,"isDisposed":true,"id":"fbad6a108e92156ae9a46"}`},
		{`{"cmd":"sum2","role":"math"}`, `{"pattern":{"role":"math","cmd":"sum2"},"data":[1,2],"id":"b"}`, `{"response":"sum2:2","isDisposed":true,"id":"b"}`},
		{"fail", `{"pattern":"fail","data":null,"id":"d6"}`, `{"err":{"status":"error","message":"it failed"},"isDisposed":true,"id":"d6"}`},
		// Routed by subject: the body's pattern does not matter, and may be absent.
		{"sum", `{"pattern":"zzz","data":[5],"id":1}`, `{"response":5,"isDisposed":true,"id":1}`},
		{"sum", `{"data":[7],"id":2}`, `{"response":7,"isDisposed":true,"id":2}`},
	} {
		rep, err := nc.Request(tc.subject, []byte(tc.body), 5*time.Second)
		if err != nil || string(rep.Data) != tc.want {
			t.Errorf("%s %s:\n got %s, %v\nwant %s", tc.subject, tc.body, rep.Data, err, tc.want)
		}
	}
	// A stream: three messages to the reply subject, the last disposed.
	inbox := nats.NewInbox()
	sub, _ := nc.SubscribeSync(inbox)
	nc.PublishRequest("ticks", inbox, []byte(`{"pattern":"ticks","data":null,"id":"s"}`))
	for _, want := range []string{`{"response":3,"id":"s"}`, `{"response":2,"id":"s"}`, `{"response":1,"isDisposed":true,"id":"s"}`} {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil || string(m.Data) != want {
			t.Errorf("stream: got %s, %v; want %s", m.Data, err, want)
		}
	}
}

// TestInvalidSubjects: a route key that cannot be a NATS subject is a
// clear error from Serve, and nothing is subscribed.
func TestInvalidSubjects(t *testing.T) {
	ns := natstest.Run(t, nil)
	nc := connect(t, ns.ClientURL())
	for _, key := range []string{"a b", "a..b", ".a", "a.", "*", "a.>", "$SRV.x", "_INBOX.x", strings.Repeat("x", 2000)} {
		srv := rpc.NewServer(nil, quietLogger())
		srv.Handle(key, rpc.Func(func(json.RawMessage) (any, error) { return 1, nil }))
		s, err := natsrpc.Serve(srv, nc)
		if err == nil {
			s.Close()
			t.Errorf("pattern %q: Serve succeeded", key)
			continue
		}
		if !strings.Contains(err.Error(), "cannot be a NATS subject") {
			t.Errorf("pattern %q: unclear error %v", key, err)
		}
	}
	// Valid, though unusual: braces, quotes, colons, non-ASCII, a literal a*b.
	srv := rpc.NewServer(nil, quietLogger())
	srv.Handle(map[string]any{"op": ">", "x": "é"}, rpc.Func(func(json.RawMessage) (any, error) { return 1, nil }))
	srv.Handle("a*b", rpc.Func(func(json.RawMessage) (any, error) { return 2, nil }))
	s, err := natsrpc.Serve(srv, nc)
	if err != nil {
		t.Fatalf("valid subjects refused: %v", err)
	}
	defer s.Close()
	c := natstest.Dial(t, ns.ClientURL())
	if got, err := rpc.Call[any, int](ctxT(t, 5*time.Second), c, map[string]any{"x": "é", "op": ">"}, nil); err != nil || got != 1 {
		t.Errorf("object with > and é: %v, %v", got, err)
	}
}

// TestMaxPayload: a reply over the NATS server's max_payload becomes an
// error reply saying so; a request over it fails before it is sent.
func TestMaxPayload(t *testing.T) {
	ns := natstest.Run(t, func(o *natsserver.Options) { o.MaxPayload = 64 << 10 })
	startInstance(t, ns.ClientURL(), rpc.Config{})
	c := natstest.Dial(t, ns.ClientURL())
	ctx := ctxT(t, 5*time.Second)
	err := c.Send(ctx, "big", 100<<10, nil)
	if !isRemote(err) || !strings.Contains(err.Error(), "max_payload") {
		t.Errorf("large reply: %v, want a remote error naming max_payload", err)
	}
	err = c.Send(ctx, "sum", make([]int, 40<<10), nil)
	if !errors.Is(err, nats.ErrMaxPayload) {
		t.Errorf("large request: %v, want ErrMaxPayload", err)
	}
	if got, err := rpc.Call[[]int, int](ctx, c, "sum", []int{1}); err != nil || got != 1 {
		t.Errorf("after: %v, %v", got, err)
	}
}

// TestTCPAndNATS: one rpc.Server serves TCP and NATS at once, and the
// metrics tell the transports apart.
func TestTCPAndNATS(t *testing.T) {
	ns := natstest.Run(t, nil)
	in := startInstance(t, ns.ClientURL(), rpc.Config{Addr: "127.0.0.1:0"})
	if err := in.srv.Start(); err != nil {
		t.Fatal(err)
	}
	tcp, err := rpc.NewClient(in.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	nc := natstest.Dial(t, ns.ClientURL())
	ctx := ctxT(t, 5*time.Second)
	for _, c := range []rpc.Caller{tcp, nc, nc} {
		if got, err := rpc.Call[[]int, int](ctx, c, "sum", []int{2, 2}); err != nil || got != 4 {
			t.Errorf("sum over %T = %v, %v", c, got, err)
		}
	}
	// The server counts a request once its reply is on its way, so a
	// caller can have its answer a moment before the count moves: wait
	// for it (a count that never comes, or goes past, fails).
	var byName map[string]rpc.TransportMetrics
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		byName = map[string]rpc.TransportMetrics{}
		for _, tm := range in.srv.GetMetrics().Transports {
			byName[tm.Transport] = tm
		}
		if byName["tcp"].Requests >= 1 && byName["nats"].Requests >= 2 || time.Now().After(deadline) {
			break
		}
	}
	if byName["tcp"].Requests != 1 || byName["nats"].Requests != 2 {
		t.Errorf("transports = %+v, want tcp 1, nats 2", in.srv.GetMetrics().Transports)
	}
}

// TestTimeoutsAndLimits: the rpc.Server's policies apply over NATS: the
// timeout is answered at the deadline though the handler ignores it, and a
// requester over the rate limit is refused.
func TestTimeoutsAndLimits(t *testing.T) {
	ns := natstest.Run(t, nil)
	startInstance(t, ns.ClientURL(), rpc.Config{Timeout: 200 * time.Millisecond, RateLimitPerSec: 5, RateLimitBurst: 5})
	c := natstest.Dial(t, ns.ClientURL())
	ctx := ctxT(t, 10*time.Second)
	start := time.Now()
	// The handler returns after 3 s: an answer well before that (2 s, ten
	// times the deadline, for a loaded machine) is the timeout's.
	err := c.Send(ctx, "stubborn", 3000, nil)
	if !isRemote(err) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("stubborn handler: %v, want the timeout error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timeout answered after %v, deadline 200ms", d)
	}
	limited := 0
	for range 10 {
		if err := c.Send(ctx, "sum", []int{1}, nil); err != nil && strings.Contains(err.Error(), "Rate limit") {
			limited++
		}
	}
	if limited == 0 {
		t.Error("no call refused by a rate limit of 5/s")
	}
	// Another requester has a bucket of its own. (Clients of one process
	// share theirs: a NATS client's inboxes share a per-process prefix.)
	otherConn := connect(t, ns.ClientURL(), nats.CustomInboxPrefix("_OTHER"))
	other, err := natsrpc.NewClient(otherConn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Send(ctx, "sum", []int{1}, nil); err != nil {
		t.Errorf("another requester: %v", err)
	}
}

// TestDiscovery: the service answers NATS micro's $SRV.PING, INFO and
// STATS with the shapes natscli checks.
func TestDiscovery(t *testing.T) {
	ns := natstest.Run(t, nil)
	startInstance(t, ns.ClientURL(), rpc.Config{}, natsrpc.WithService("calc", "1.2.3", "a calculator"))
	c := natstest.Dial(t, ns.ClientURL())
	if _, err := rpc.Call[[]int, int](ctxT(t, 5*time.Second), c, "sum", []int{1}); err != nil {
		t.Fatal(err)
	}
	nc := connect(t, ns.ClientURL())
	var info struct {
		Name, ID, Version, Type, Description string
		Endpoints                            []struct {
			Name       string            `json:"name"`
			Subject    string            `json:"subject"`
			QueueGroup string            `json:"queue_group"`
			Metadata   map[string]string `json:"metadata"`
		}
	}
	rep, err := nc.Request("$SRV.INFO.calc", nil, 5*time.Second)
	if err != nil || json.Unmarshal(rep.Data, &info) != nil {
		t.Fatalf("INFO: %s, %v", rep.Data, err)
	}
	if info.Name != "calc" || info.Version != "1.2.3" || info.Type != "io.nats.micro.v1.info_response" || info.Description != "a calculator" {
		t.Errorf("INFO = %s", rep.Data)
	}
	subjects := map[string]string{}
	for _, e := range info.Endpoints {
		subjects[e.Subject] = e.Name
		for _, ch := range e.Name {
			if !(ch == '_' || ch == '-' || ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z') {
				t.Errorf("endpoint name %q is not one natscli accepts", e.Name)
			}
		}
		if e.QueueGroup != natsrpc.DefaultQueueGroup {
			t.Errorf("endpoint %s queue group %q", e.Name, e.QueueGroup)
		}
	}
	for _, want := range []string{"sum", `{"cmd":"sum"}`, `{"cmd":"sum2","role":"math"}`, "evt"} {
		if _, ok := subjects[want]; !ok {
			t.Errorf("INFO has no endpoint for subject %s: %s", want, rep.Data)
		}
	}
	var stats struct {
		Type      string
		Endpoints []struct {
			Subject     string `json:"subject"`
			NumRequests uint64 `json:"num_requests"`
		}
	}
	rep, err = nc.Request("$SRV.STATS", nil, 5*time.Second)
	if err != nil || json.Unmarshal(rep.Data, &stats) != nil || stats.Type != "io.nats.micro.v1.stats_response" {
		t.Fatalf("STATS: %s, %v", rep.Data, err)
	}
	for _, e := range stats.Endpoints {
		if e.Subject == "sum" && e.NumRequests != 1 {
			t.Errorf("STATS sum num_requests = %d, want 1", e.NumRequests)
		}
	}
	rep, err = nc.Request("$SRV.PING", nil, 5*time.Second)
	if err != nil || !strings.Contains(string(rep.Data), `"type":"io.nats.micro.v1.ping_response"`) {
		t.Errorf("PING: %s, %v", rep.Data, err)
	}
}

func TestEndpointNames(t *testing.T) {
	for key, want := range map[string]string{
		"sum": "sum", `{"cmd":"sum"}`: "cmd_sum", `{"cmd":"sum2","role":"math"}`: "cmd_sum2_role_math",
		"a.b c": "a_b_c", "42": "42", "é": "pattern",
	} {
		if got := natsrpc.EndpointName(key); got != want {
			t.Errorf("EndpointName(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestEndpointNamesUnique: endpoint names that collide are numbered, and a
// numbered name is not one another subject already has: "a:b" and "a_b"
// both make a_b, and "a_b_2" is its own subject's name.
func TestEndpointNamesUnique(t *testing.T) {
	ns := natstest.Run(t, nil)
	srv := rpc.NewServer(&rpc.Config{}, quietLogger())
	for _, p := range []string{"a:b", "a_b", "a_b_2"} {
		srv.Handle(p, rpc.Func(func(json.RawMessage) (any, error) { return 1, nil }))
	}
	natstest.Serve(t, srv, ns.ClientURL())
	nc := connect(t, ns.ClientURL())
	rep, err := nc.Request("$SRV.INFO.msgpattern", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Endpoints []struct{ Name, Subject string }
	}
	if err := json.Unmarshal(rep.Data, &info); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, e := range info.Endpoints {
		if prev, dup := seen[e.Name]; dup {
			t.Errorf("endpoint name %q given to both %q and %q", e.Name, prev, e.Subject)
		}
		seen[e.Name] = e.Subject
	}
	if len(seen) != 6 { // three patterns, each also as {"cmd":…}
		t.Errorf("%d endpoints: %v", len(seen), seen)
	}
}
