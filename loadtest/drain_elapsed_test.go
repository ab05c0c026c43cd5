package loadtest_test

import (
	"context"
	"encoding/json"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/loadtest"
	"github.com/msgpattern/msgpattern/wire"
)

// startDroppingServer answers every request at once, but for the one with
// id drop, which it never answers.
func startDroppingServer(t *testing.T, drop uint64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { nc.Close() })
			go func() {
				var sc wire.FrameScanner
				buf := make([]byte, 0, 64<<10)
				rd := make([]byte, 32<<10)
				var out []byte
				for {
					n, err := nc.Read(rd)
					if err != nil {
						return
					}
					buf = append(buf, rd[:n]...)
					out = out[:0]
					for {
						f, err := sc.Scan(buf)
						if err != nil {
							return
						}
						if f.Len == 0 {
							break
						}
						var req struct{ ID uint64 }
						json.Unmarshal(f.Body, &req)
						if req.ID != drop {
							body, _ := json.Marshal(map[string]any{"response": 1, "isDisposed": true, "id": req.ID})
							out = wire.AppendFrame(out, wire.NestJS, body)
						}
						buf = buf[f.Len:]
					}
					buf = append(buf[:0:0], buf...)
					if len(out) > 0 {
						if _, err := nc.Write(out); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestDrainWaitIsNotInElapsed: a run of Duration with one request never
// answered waits DrainTimeout for it, then counts it as no_reply. The
// wait, in which nothing happened, is not part of the run: Elapsed and RPS
// must not include it, or one lost reply in a 5s run with the default 10s
// drain reports a third of the rate the server achieved. Run against a
// server that never answers one request; RunCalls with a call that never
// returns until its ctx ends.
func TestDrainWaitIsNotInElapsed(t *testing.T) {
	const (
		duration = 300 * time.Millisecond
		drain    = 3 * time.Second
	)
	for _, tc := range []struct {
		name string
		run  func(cfg loadtest.Config) (loadtest.Result, error)
	}{
		{"Run", func(cfg loadtest.Config) (loadtest.Result, error) {
			cfg.Addr, cfg.Pattern, cfg.InFlight = startDroppingServer(t, 2), []byte(`"sum"`), 4
			return loadtest.Run(context.Background(), cfg)
		}},
		{"RunCalls", func(cfg loadtest.Config) (loadtest.Result, error) {
			cfg.InFlight = 2
			var first atomic.Bool
			return loadtest.RunCalls(context.Background(), cfg, func(ctx context.Context, _ int) (string, error) {
				if first.CompareAndSwap(false, true) {
					<-ctx.Done() // never answered
					return loadtest.KindNoReply, nil
				}
				time.Sleep(time.Millisecond)
				return "", nil
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tc.run(loadtest.Config{Duration: duration, DrainTimeout: drain})
			if err != nil {
				t.Fatal(err)
			}
			if res.ByKind[loadtest.KindNoReply] != 1 {
				t.Fatalf("no_reply: %v; want 1", res.ByKind)
			}
			if res.Elapsed > duration+drain/3 {
				t.Errorf("%d requests, one unanswered, in a %s run: Elapsed %s, %.0f requests/s; "+
					"the %s waited for the lost reply is counted in the run's time",
					res.Requests, duration, res.Elapsed.Round(time.Millisecond), res.RPS, drain)
			}
		})
	}
}
