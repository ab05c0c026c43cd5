package rpc_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestSchemaMatchesEncodingJSON: msgpattern:list's JSON Schemas are
// documented to describe a type "as encoding/json encodes and decodes it".
// encoding/json encodes a type that implements encoding.TextMarshaler (and
// not json.Marshaler) as a JSON string — netip.Addr, uuid-style [16]byte
// IDs, any custom ID type — and a json.Number as a number, and a field
// tagged `json:",string"` as a string, and of two fields named alike the
// shallower one; the schema described them as an empty object, an array of
// integers, a string, an integer, and the embedded (hidden) field's type.
func TestSchemaMatchesEncodingJSON(t *testing.T) {
	type in struct {
		Addr   netip.Addr  `json:"addr"`
		ID     textID      `json:"id"`
		N      json.Number `json:"n"`
		Count  int64       `json:"count,string"`
		Name   string      `json:"name"`
		shadow             // its Name is hidden by the field above (encoding/json: the shallower wins)
	}
	s := rpc.NewServer(&rpc.Config{}, discardLogger())
	s.Handle("x", rpc.Typed(func(_ context.Context, v in) (in, error) { return v, nil }))
	var schema struct {
		Properties map[string]map[string]any `json:"properties"`
	}
	infos := s.Patterns(true)
	if len(infos) != 1 {
		t.Fatalf("patterns %v", infos)
	}
	if err := json.Unmarshal(infos[0].Input, &schema); err != nil {
		t.Fatal(err)
	}
	// What encoding/json really produces for a value of in.
	b, _ := json.Marshal(in{Addr: netip.MustParseAddr("10.0.0.1"), N: "12"})
	t.Logf("encoding/json: %s", b)
	t.Logf("schema: %s", infos[0].Input)
	want := map[string]string{"addr": "string", "id": "string", "n": "number", "count": "string", "name": "string"}
	for field, typ := range want {
		got, _ := schema.Properties[field]["type"].(string)
		if got != typ && len(schema.Properties[field]) != 0 { // {} (unconstrained) would be acceptable
			t.Errorf("schema of %q says type %q (%v); encoding/json writes a %s", field, got, schema.Properties[field], typ)
		}
	}
}

type shadow struct {
	Name int `json:"name"`
}

// textID is an ID that encodes itself as text, as uuid.UUID does.
type textID [16]byte

func (id textID) MarshalText() ([]byte, error) {
	return []byte("00000000-0000-0000-0000-000000000000"), nil
}
func (id *textID) UnmarshalText(b []byte) error { return nil }

// TestTimedOutRequestIsPatternError: a request answered with the
// timeout error is a failure for its caller and is counted as one in
// errors_by_kind.timeout, but whether its pattern's Errors (Prometheus
// msgpattern_pattern_errors_total, NATS micro's num_errors) counted it
// depended on what the handler happened to return and on a race with the
// timeout timer: a unary handler whose value came after the deadline
// before the timer fired (sendLast expires the request and returns nil), or
// a handler that honours its context and returns nil, was counted a
// success, while the same handler seeing the timer first (ErrReplyClosed)
// or returning ctx.Err() was counted an error.
func TestTimedOutRequestIsPatternError(t *testing.T) {
	s, _ := startServer(t, rpc.Config{Timeout: 50 * time.Millisecond}, func(s *rpc.Server) {
		// Late by construction: its deadline is 1 ns after the read.
		s.Handle("late", rpc.Func(func(json.RawMessage) (any, error) { return "value", nil }),
			rpc.WithTimeout(time.Nanosecond))
		// Gives up when its context ends, as handlers should.
		s.Handle("giveup", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
			<-ctx.Done()
			return nil
		}))
		// The same, returning the context's error.
		s.Handle("giveuperr", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
			<-ctx.Done()
			return ctx.Err()
		}))
	})
	c := dial(t, s)
	for i, p := range []string{"late", "giveup", "giveuperr"} {
		c.write(reqFrame(`"`+p+`"`, `null`, strconv.Itoa(i+1)))
		if got := c.readFrame(); !strings.Contains(got, "Request timed out") {
			t.Fatalf("%s: reply %s, want the timeout error", p, got)
		}
	}
	if !eventually(5*time.Second, func() bool { return s.GetMetrics().Requests == 3 }) {
		t.Fatalf("requests %d, want 3", s.GetMetrics().Requests)
	}
	m := s.GetMetrics()
	if m.ErrorByKind.Timeout != 3 {
		t.Errorf("errors_by_kind.timeout = %d, want 3", m.ErrorByKind.Timeout)
	}
	for _, p := range m.Patterns {
		if p.Count != 1 || p.Errors != 1 {
			t.Errorf("pattern %s: count %d errors %d; its caller got a timeout error, want errors 1", p.Pattern, p.Count, p.Errors)
		}
	}
}

// TestMaxDataRefusalNotCountedAsHandlerChoice: WithMaxDataBytes
// refuses a message "before its handler runs", yet the refusal was counted
// as errors_by_kind.rpc, documented as "*Error replies chosen by
// handlers": an operator read a peer hitting a bound as handlers
// answering with errors. It is data_too_large now.
func TestMaxDataRefusalNotCountedAsHandlerChoice(t *testing.T) {
	ran := make(chan struct{}, 1)
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("small", rpc.Func(func(json.RawMessage) (any, error) { ran <- struct{}{}; return 1, nil }),
			rpc.WithMaxDataBytes(8))
		s.Handle("ok", rpc.Func(func(json.RawMessage) (any, error) { return 1, nil }))
	})
	c := dial(t, s)
	c.write(reqFrame(`"small"`, `"0123456789abcdef"`, `1`))
	if got := c.readFrame(); !strings.Contains(got, "Data too large") {
		t.Fatalf("reply %s, want Data too large", got)
	}
	select {
	case <-ran:
		t.Fatal("the handler ran")
	default:
	}
	// The reader serves frames in order and counts a request before it
	// reads the next: once "ok" is counted, the refusal is too.
	c.write(reqFrame(`"ok"`, `null`, `2`))
	c.readFrame()
	var m rpc.Metrics
	if !eventually(5*time.Second, func() bool {
		m = s.GetMetrics()
		for _, p := range m.Patterns {
			if p.Pattern == "ok" && p.Count == 1 {
				return true
			}
		}
		return false
	}) {
		t.Fatal("the second request was not counted")
	}
	if m.ErrorByKind.RPC != 0 {
		t.Errorf("a refusal by WithMaxDataBytes, the handler not run, counted as rpc %d (an *Error chosen by a handler); also requests %d (reached a handler)",
			m.ErrorByKind.RPC, m.Requests)
	}
}
