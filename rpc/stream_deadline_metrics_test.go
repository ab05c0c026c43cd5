package rpc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestStreamStoppedAtDeadlineNotLate: rpc.Stream's documentation says
// "The sequence should stop when ctx is cancelled". A sequence that does
// so at its deadline ends, and the adapter returns nil, as for a stream
// that completed: the server counts it as a late result dropped
// (ErrorCounts.LateResultsDropped: "results … that came after the timeout
// reply"; producedResult's own rule is that "a handler giving up produced
// nothing"), on top of its timeout. A handler written with rpc.Typed that
// honours its context (returns ctx.Err()) is not counted so: the
// well-behaved stream is the one miscounted.
func TestStreamStoppedAtDeadlineNotLate(t *testing.T) {
	for _, tt := range []struct {
		name    string
		timeout time.Duration
		want    string
	}{
		{"deadline", 100 * time.Millisecond, "canceled 0 timeout 1 late 0 pattern errors 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1}, discardLogger())
			ended := make(chan struct{})
			srv.Handle("ticks", rpc.Stream(func(ctx context.Context, _ json.RawMessage) iter.Seq2[int, error] {
				return func(yield func(int, error) bool) {
					defer close(ended)
					// Two values at once, then nothing until the context
					// ends (a value produced at the deadline would be a late
					// result indeed).
					for i := range 2 {
						if !yield(i, nil) {
							return
						}
					}
					<-ctx.Done() // as documented: stop when ctx is cancelled
				}
			}), rpc.WithTimeout(tt.timeout))
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			nc, err := net.Dial("tcp", srv.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			req := `{"pattern":"ticks","data":null,"id":1}`
			nc.Write([]byte(strconv.Itoa(len(req)) + "#" + req))
			br := bufio.NewReader(nc)
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			for range 2 { // two values
				if _, err := br.ReadString('}'); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case <-ended:
			case <-time.After(5 * time.Second):
				t.Fatal("the stream never ended")
			}
			var m rpc.Metrics
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				m = srv.GetMetrics()
				if m.Requests == 1 && m.InFlight == 0 || time.Now().After(deadline) {
					break
				}
			}
			var pe uint64
			for _, p := range m.Patterns {
				if p.Pattern == "ticks" {
					pe = p.Errors
				}
			}
			e := m.ErrorByKind
			got := fmt.Sprintf("canceled %d timeout %d late %d pattern errors %d", e.Canceled, e.Timeout, e.LateResultsDropped, pe)
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
