package rpc_test

// Patterns that cost the server by their length: routing normalizes a
// pattern on the connection's reader, before any handler, limit or
// deadline, and sorting the keys of an object pattern by collation used to
// cost microseconds per byte for non-ASCII keys. A pattern longer than any
// registered route could match is now refused unread, and the sort costs
// the collator one pass per key.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/msgpattern/msgpattern/rpc"
)

// hangulPattern is an object pattern of 20 keys that share a prefix of n
// Hangul syllables and come in reverse route order: the worst case for
// the key sort.
func hangulPattern(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range 20 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"%s%c":1`, strings.Repeat("가", n), 'z'-i)
	}
	b.WriteByte('}')
	return b.String()
}

// TestLongObjectPatternCost: six connections each send three events whose
// pattern is a 1 MiB object of long Hangul keys, matching no handler. The
// server used to spend about 3.5 µs of CPU per byte on them (over a minute
// for these 18 MiB) and an honest client waited seconds. Not parallel: it
// reads the process's CPU time.
func TestLongObjectPatternCost(t *testing.T) {
	if _, ok := processCPU(); !ok {
		if os.Getenv("CI") == "true" {
			t.Fatal("process CPU time cannot be read here")
		}
		t.Skip("process CPU time cannot be read here")
	}
	const (
		attackers = 6
		perConn   = 3
		// Seconds before the fix, with the CPU limit below as the sharper
		// test; 1 s was missed by a loaded machine (1.14 s) with the fix.
		callLimit = 3 * time.Second
		deadline  = 30 * time.Second // for the attack to be read, fixed or not
	)
	// 0.13 s measured without -race, 21 s before the fix; -race makes
	// merely reading and scanning 18 MiB cost about 4 s (on a loaded CI
	// machine, 5.07 s once), and the unfixed sort far more.
	cpuLimit := 5 * time.Second
	if raceDetector {
		cpuLimit = 20 * time.Second
	}
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("sum", rpc.Typed(func(_ context.Context, in []float64) (float64, error) {
			var n float64
			for _, v := range in {
				n += v
			}
			return n, nil
		}))
	})
	pat := hangulPattern(1 << 20 / 3 / 20)
	ev := []byte(frame(reqBody(pat, "null", "")))
	t.Logf("%d attackers × %d events of %d bytes", attackers, perConn, len(ev))

	honest := dial(t, s)
	honest.call(`"sum"`, `[1,2]`, `0`, valueReply(`3`, `0`))

	conns := make([]net.Conn, attackers)
	for i := range conns {
		conns[i] = rawDial(t, s, 0)
	}
	cpu0, _ := processCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for _, nc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc.SetWriteDeadline(start.Add(deadline))
			for range perConn {
				if _, err := nc.Write(ev); err != nil {
					return
				}
			}
		}()
	}

	// The honest client calls every 20ms while the attack is read.
	var slowest time.Duration
	calls := 0
	want := uint64(attackers * perConn)
	dropped := func() uint64 { return s.GetMetrics().ErrorByKind.NoEventHandler }
	for time.Since(start) < deadline && (dropped() < want || calls < 5) {
		calls++
		id := strconv.Itoa(calls)
		t0 := time.Now()
		honest.write(reqFrame(`"sum"`, `[20,22]`, id))
		got, err := honest.readFrameErr(deadline)
		took := time.Since(t0)
		if err != nil || got != valueReply(`42`, id) {
			t.Fatalf("honest call %d: got %q, %v after %v", calls, clip(got), err, took)
		}
		slowest = max(slowest, took)
		time.Sleep(20 * time.Millisecond)
	}
	cpu1, _ := processCPU()
	used, wall := cpu1-cpu0, time.Since(start)
	for _, nc := range conns {
		nc.Close()
	}
	wg.Wait()
	t.Logf("%d of %d events dropped in %v; %v of CPU; %d honest calls, the slowest %v",
		dropped(), want, wall, used, calls, slowest)
	if n := dropped(); n < want {
		t.Errorf("after %v the server had dropped %d of the %d events", wall, n, want)
	}
	if used > cpuLimit {
		t.Errorf("the server used %v of CPU on %d MiB of unroutable patterns; want under %v", used, attackers*perConn*len(ev)>>20, cpuLimit)
	}
	if slowest > callLimit {
		t.Errorf("an honest call took %v during the attack; want under %v", slowest, callLimit)
	}
}

// TestLongObjectPatternRouted: the length cap never refuses a pattern that
// matches a registered route, however the client spaces and escapes it,
// and a request longer than any route could match gets the no-handler
// reply.
func TestLongObjectPatternRouted(t *testing.T) {
	t.Parallel()
	// 20 keys of 50 characters, some not ASCII, with string values.
	obj := map[string]any{}
	for i := range 20 {
		unit := []string{"k", "é", "가", "ж", "_"}[i%5]
		key := fmt.Sprintf("%02d", i) + strings.Repeat(unit, 48)
		obj[key] = strings.Repeat("v", i)
	}
	s, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle(obj, rpc.Func(func(json.RawMessage) (any, error) { return "long-ok", nil }))
		s.Handle("sum", rpc.Typed(func(_ context.Context, in []float64) (float64, error) { return in[0] + in[1], nil }))
	})
	c := dial(t, s)

	compact, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	indented, err := json.MarshalIndent(obj, "                ", "                ")
	if err != nil {
		t.Fatal(err)
	}
	// Every character of every key and value as a \u escape (surrogate
	// pairs beyond the BMP), with spaces around every token.
	var esc strings.Builder
	esc.WriteString(" {\n ")
	first := true
	for k, v := range obj {
		if !first {
			esc.WriteString(" ,\n ")
		}
		first = false
		esc.WriteString(escapeAll(k) + " \t:\t " + escapeAll(v.(string)))
	}
	esc.WriteString(" \n} ")
	// The escaped text, once more as a JSON string pattern.
	quoted, err := json.Marshal(esc.String())
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range []string{string(compact), string(indented), esc.String(), string(quoted)} {
		id := strconv.Itoa(i + 1)
		t.Logf("form %s: %d bytes", id, len(p))
		c.call(p, "null", id, valueReply(`"long-ok"`, id))
	}

	// Longer than any route allows: no handler, and the connection goes on.
	c.call(hangulPattern(1000), "null", "100", noHandlerReply("100"))
	c.write(reqFrame(`{"cmd":"`+strings.Repeat("가", 20000)+`"}`, "null", ""))
	c.call(`"sum"`, `[20,22]`, "101", valueReply(`42`, "101"))
	waitMetric(t, s, "errors_by_kind.no_event_handler", 1, func(m rpc.Metrics) uint64 { return m.ErrorByKind.NoEventHandler })

	// A route registered while serving raises the limit at once.
	long := strings.Repeat("가", 20000)
	s.Handle(long, rpc.Func(func(json.RawMessage) (any, error) { return "late-ok", nil }))
	c.call(`{"cmd":`+escapeAll(long)+`}`, "null", "102", valueReply(`"late-ok"`, "102"))
}

// escapeAll writes s as a JSON string with every character a \u escape.
func escapeAll(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, `\u%04x`, u)
	}
	b.WriteByte('"')
	return b.String()
}
