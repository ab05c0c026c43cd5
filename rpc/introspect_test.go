package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

type orderIn struct {
	ID       string `json:"id"`
	Customer struct {
		Name string `json:"name"`
	} `json:"customer"`
	Items []struct {
		Qty   int      `json:"qty"`
		Price float64  `json:"price"`
		Tags  []string `json:"tags,omitempty"`
	} `json:"items"`
	When     time.Time `json:"when"`
	internal int
	Skip     string `json:"-"`
}

// TestIntrospection: with Config.Introspection, the reserved patterns list
// the patterns (kinds, and JSON Schemas of typed handlers on request),
// report health and the stats; without it, they are unknown patterns.
func TestIntrospection(t *testing.T) {
	t.Parallel()
	register := func(s *rpc.Server) {
		s.Handle("order", rpc.Typed(func(context.Context, orderIn) (float64, error) { return 0, nil }))
		s.Handle("ticks", rpc.Stream(func(context.Context, int) iter.Seq2[int, error] { return func(func(int, error) bool) {} }))
		s.HandleEvent("evt", rpc.Event(func(context.Context, map[string]int) error { return nil }))
		s.Handle("raw", rpc.Func(func(json.RawMessage) (any, error) { return nil, nil }))
	}
	srv, _ := startServer(t, rpc.Config{Introspection: true}, register)
	c, err := rpc.NewClient(srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	list, err := rpc.Call[any, []rpc.PatternInfo](ctx, c, rpc.ListPattern, nil)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, p := range list {
		kinds[p.Pattern] = p.Kind
		if p.Input != nil {
			t.Errorf("%s: schema without asking", p.Pattern)
		}
	}
	if want := map[string]string{"order": "request", "ticks": "stream", "evt": "event", "raw": "handler"}; !equalMaps(kinds, want) {
		t.Errorf("kinds %v, want %v", kinds, want)
	}
	list, err = rpc.Call[map[string]bool, []rpc.PatternInfo](ctx, c, rpc.ListPattern, map[string]bool{"schema": true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list {
		if p.Pattern != "order" {
			continue
		}
		in, out := string(p.Input), string(p.Output)
		for _, want := range []string{`"id":{"type":"string"}`, `"items":{"items":{"properties":{"price":{"type":"number"},"qty":{"type":"integer"},"tags":{"items":{"type":"string"},"type":"array"}},"type":"object"},"type":"array"}`, `"when":{"format":"date-time","type":"string"}`} {
			if !strings.Contains(in, want) {
				t.Errorf("order input schema lacks %s:\n%s", want, in)
			}
		}
		if strings.Contains(in, "internal") || strings.Contains(in, "Skip") {
			t.Errorf("schema shows unexported or skipped fields: %s", in)
		}
		if out != `{"type":"number"}` {
			t.Errorf("order output schema %s", out)
		}
	}
	health, err := rpc.Call[any, map[string]string](ctx, c, rpc.HealthPattern, nil)
	if err != nil || health["status"] != "serving" {
		t.Errorf("health = %v, %v", health, err)
	}
	stats, err := rpc.Call[any, rpc.Metrics](ctx, c, rpc.StatsPattern, nil)
	if err != nil || stats.Requests < 2 {
		t.Errorf("stats: %d requests, %v", stats.Requests, err)
	}

	plain, _ := startServer(t, rpc.Config{}, register)
	pc, _ := rpc.NewClient(plain.Addr().String())
	defer pc.Close()
	if err := pc.Send(ctx, rpc.ListPattern, nil, nil); !errors.Is(err, rpc.ErrNoHandler) {
		t.Errorf("introspection off: %v, want ErrNoHandler", err)
	}
}

var _ = orderIn{internal: 0} // the unexported field is there to be left out of the schema

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestPatternsWhileRegistering: Patterns reads one snapshot of the route
// table. It used to read it twice, and panicked on a route added between
// the two reads (over the wire: msgpattern:list answered an internal error).
func TestPatternsWhileRegistering(t *testing.T) {
	s := rpc.NewServer(&rpc.Config{Introspection: true}, discardLogger())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 3000 {
			s.Handle("p"+strconv.Itoa(i), rpc.Func(func(json.RawMessage) (any, error) { return nil, nil }))
		}
	}()
	for {
		select {
		case <-done:
			if n := len(s.Patterns(false)); n != 3000 {
				t.Errorf("%d patterns listed; want 3000", n)
			}
			return
		default:
		}
		s.Patterns(false) // a panic fails the test
	}
}
