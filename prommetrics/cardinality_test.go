package prommetrics

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestDistinctPatternsBounded: a peer sending 40k
// distinct patterns (requests and events, string, object and cmd forms,
// 200 bytes each: 8 MB of distinct text) grows neither the JSON
// snapshot's pattern list, nor Prometheus' series, nor the heap; an honest
// call and its metric still work.
func TestDistinctPatternsBounded(t *testing.T) {
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1}, quietLogger)
	srv.Handle("ok", rpc.Func(func(json.RawMessage) (any, error) { return "pong", nil }))
	srv.Handle(map[string]any{"cmd": "sum"}, rpc.Func(func(json.RawMessage) (any, error) { return 1, nil }))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	col := NewCollector(srv)
	series0 := testutil.CollectAndCount(col)
	runtime.GC()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)

	const conns, per = 4, 10000
	pad := strings.Repeat("x", 170)
	var wg sync.WaitGroup
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := net.Dial("tcp", srv.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer nc.Close()
			honest := make(chan struct{})
			go func() { // drain the no-handler replies, until the honest reply
				defer close(honest)
				br := bufio.NewReaderSize(nc, 64<<10)
				for {
					l, err := br.ReadString('}')
					if err != nil {
						t.Errorf("connection %d: %v", c, err)
						return
					}
					if strings.Contains(l, `"response":"pong"`) {
						return
					}
				}
			}()
			bw := bufio.NewWriterSize(nc, 64<<10)
			for i := range per {
				var m string
				switch i % 4 {
				case 0:
					m = fmt.Sprintf(`{"pattern":"p%d-%d-%s","data":1,"id":%d}`, c, i, pad, i)
				case 1:
					m = fmt.Sprintf(`{"pattern":"e%d-%d-%s","data":1}`, c, i, pad)
				case 2:
					m = fmt.Sprintf(`{"pattern":{"cmd":"c%d-%d-%s","role":"x"},"data":1,"id":%d}`, c, i, pad, i)
				case 3:
					m = fmt.Sprintf(`{"pattern":"{\"cmd\":\"k%d-%d-%s\"}","data":1,"id":%d}`, c, i, pad, i)
				}
				bw.WriteString(nestFrame(m))
			}
			bw.Flush()
			// An honest call on the attacker's connection, after the flood.
			bw.WriteString(nestFrame(`{"pattern":"ok","data":1,"id":"honest"}`))
			bw.Flush()
			nc.SetReadDeadline(time.Now().Add(60 * time.Second))
			<-honest
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(20 * time.Second)
	var m rpc.Metrics
	for {
		m = srv.GetMetrics()
		e := m.ErrorByKind
		if e.NoHandler+e.NoEventHandler >= conns*per || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("no_handler %d no_event_handler %d", m.ErrorByKind.NoHandler, m.ErrorByKind.NoEventHandler)
	if got := m.ErrorByKind.NoHandler + m.ErrorByKind.NoEventHandler; got != conns*per {
		t.Errorf("unknown patterns counted %d, want %d", got, conns*per)
	}
	// An honest call still works and is counted.
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write([]byte(nestFrame(`{"pattern":{"cmd":"sum"},"data":1,"id":1}`)))
	if r := readNestFrames(t, nc, bufio.NewReader(nc), 1); r[0] != `{"response":1,"isDisposed":true,"id":1}` {
		t.Errorf("honest call: %q", r)
	}
	if len(m.Patterns) != 2 {
		t.Errorf("%d patterns in the snapshot, want 2", len(m.Patterns))
	}
	if n := testutil.CollectAndCount(col); n != series0 {
		t.Errorf("%d Prometheus series after the flood, %d before", n, series0)
	}
	runtime.GC()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	grow := int64(ms1.HeapAlloc) - int64(ms0.HeapAlloc)
	t.Logf("heap %d KiB -> %d KiB", ms0.HeapAlloc>>10, ms1.HeapAlloc>>10)
	if grow > 4<<20 {
		t.Errorf("heap grew by %d KiB after %d distinct patterns", grow>>10, conns*per)
	}
}

// nestFrame frames an ASCII body as NestJS does.
func nestFrame(s string) string { return strconv.Itoa(len(s)) + "#" + s }

// readNestFrames reads n NestJS frames of ASCII bodies from br.
func readNestFrames(t *testing.T, nc net.Conn, br *bufio.Reader, n int) []string {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var out []string
	for len(out) < n {
		l, err := br.ReadString('#')
		if err != nil {
			t.Fatalf("after %d frames %q: %v", len(out), out, err)
		}
		size, err := strconv.Atoi(strings.TrimSuffix(l, "#"))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, size)
		if _, err := io.ReadFull(br, buf); err != nil {
			t.Fatal(err)
		}
		out = append(out, string(buf))
	}
	return out
}
