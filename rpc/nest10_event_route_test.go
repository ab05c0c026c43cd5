package rpc_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestNest10EventUnescapedRoute: a NestJS 10 ClientProxy's emit() sends the
// route key as the pattern, and NestJS 10's transformPatternToRoute does
// not escape '"' or '\' in string values: emit({cmd: 'say "hi"'}, d) puts
// the pattern "{\"cmd\":\"say \"hi\"\"}" on the wire (not JSON). A NestJS 10
// server routes it to @EventPattern({cmd: 'say "hi"'}); ours dropped it
// as matching no handler (measured in interop/ with NestJS 10.4.22).
func TestNest10EventUnescapedRoute(t *testing.T) {
	got := make(chan string, 4)
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		for _, v := range []string{`say "hi"`, `C:\dir\n`} {
			s.HandleEvent(map[string]any{"cmd": v}, rpc.Event(func(_ context.Context, d string) error {
				got <- d
				return nil
			}))
		}
	})
	c := dial(t, s)
	// What NestJS 10.4.22's JSON.stringify({pattern: route, data}) gives.
	for _, route := range []string{`{"cmd":"say "hi""}`, `{"cmd":"C:\dir\n"}`} {
		p, _ := json.Marshal(route)
		c.write(frame(`{"pattern":` + string(p) + `,"data":` + strconv.Quote(route) + `}`))
	}
	var seen []string
	for len(seen) < 2 {
		select {
		case d := <-got:
			seen = append(seen, d)
		case <-time.After(5 * time.Second):
			t.Fatalf("after 5 s the event handlers got %q; want both NestJS 10 events (no_event_handler: %d)",
				seen, s.GetMetrics().ErrorByKind.NoEventHandler)
		}
	}
	if !strings.Contains(strings.Join(seen, "|"), `say "hi"`) {
		t.Errorf("seen %q", seen)
	}
}
