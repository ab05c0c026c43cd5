package rpc_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
	"github.com/msgpattern/msgpattern/wire"
)

// Helpers of the exposure tests: handlers whose cost a peer controls, and
// attackers that behave as a slow or hostile client would.

// listenNeverRead starts a listener whose connections are accepted, given a
// small receive buffer and never read, so that a peer's writes soon stall.
// It and its connections close when the test ends.
func listenNeverRead(t *testing.T) net.Listener {
	return serveRawConns(t, 4096, nil)
}

// serveRawConns starts a listener that gives each connection it accepts a
// receive buffer of rcvBuf bytes (0: the system's) and runs serve on it in
// a goroutine of its own (nil: the connection is never read). When the
// test ends done closes, the listener and every connection close, and
// serve's goroutines are waited for.
func serveRawConns(t *testing.T, rcvBuf int, serve func(nc net.Conn, done <-chan struct{})) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	done := make(chan struct{})
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			if rcvBuf > 0 {
				nc.(*net.TCPConn).SetReadBuffer(rcvBuf)
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			if serve != nil {
				wg.Go(func() { serve(nc, done) })
			}
		}
	})
	t.Cleanup(func() {
		close(done)
		ln.Close()
		mu.Lock()
		for _, nc := range conns {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln
}

// eachNestFrame reads nc in reads of at most bufSize bytes, pausing
// between them, and calls fn with the body of each whole NestJS frame,
// until fn returns false or the connection ends.
func eachNestFrame(nc net.Conn, bufSize int, pause time.Duration, fn func(body []byte) bool) {
	var acc []byte
	buf := make([]byte, bufSize)
	for {
		n, err := nc.Read(buf)
		acc = append(acc, buf[:n]...)
		for {
			i := bytes.IndexByte(acc, '#')
			if i < 0 {
				break
			}
			size, perr := strconv.Atoi(string(acc[:i]))
			if perr != nil || len(acc) < i+1+size {
				break
			}
			if !fn(acc[i+1 : i+1+size]) {
				return
			}
			acc = append(acc[:0], acc[i+1+size:]...)
		}
		if err != nil {
			return
		}
		time.Sleep(pause)
	}
}

// registerExposure adds, beside the probe handlers (among them "echo"):
// "len" (the byte length of its raw data), "flood" (streams n values
// of size bytes, data [n,size]) and "block" (waits until release is closed
// or its context ends).
func registerExposure(s *rpc.Server, release <-chan struct{}) {
	registerProbe(s)
	s.Handle("len", rpc.Func(func(data json.RawMessage) (any, error) { return len(data), nil }))
	s.Handle("flood", rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
		var in [2]int
		if err := json.Unmarshal(r.Data, &in); err != nil {
			return err
		}
		v := json.RawMessage(strconv.Quote(strings.Repeat("f", in[1])))
		for range in[0] {
			if err := w.Send(v); err != nil {
				return err
			}
		}
		return nil
	}))
	s.Handle("block", rpc.Typed(func(ctx context.Context, _ json.RawMessage) (string, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return "released", nil
	}))
}

// rawDial connects to s without reading anything unless told to; its
// receive buffer can be shrunk so that the server's writes back up soon.
func rawDial(t testing.TB, s *rpc.Server, rcvbuf int) *net.TCPConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr().String(), ioTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	tc := nc.(*net.TCPConn)
	if rcvbuf > 0 {
		tc.SetReadBuffer(rcvbuf)
	}
	t.Cleanup(func() { tc.Close() })
	return tc
}

// pump writes frames to nc in the background until n are written, a write
// fails, or stop closes; every write has a deadline, so it never hangs.
// It returns a function that stops it and reports how many were written.
func pump(nc net.Conn, frame []byte, n int) (stop func() int) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var written int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for written < n {
			select {
			case <-done:
				return
			default:
			}
			nc.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
			if _, err := nc.Write(frame); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					continue // blocked: the server is not reading; try again
				}
				return
			}
			written++
		}
	}()
	var once sync.Once
	return func() int {
		once.Do(func() { close(done) })
		wg.Wait()
		return written
	}
}

// honestProbe dials a fresh connection and makes one call, failing t if
// the reply takes longer than within. It returns how long it took.
func honestProbe(t testing.TB, s *rpc.Server, tag string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	nc, err := net.DialTimeout("tcp", s.Addr().String(), within)
	if err != nil {
		t.Fatalf("honest client %s: dial: %v", tag, err)
	}
	defer nc.Close()
	c := &client{t: t, nc: nc}
	c.br = bufio.NewReader(nc)
	id := strconv.Quote("h-" + tag)
	c.write(reqFrame(`"sum"`, `[20,22]`, id))
	got, err := c.readFrameErr(within)
	if err != nil || got != valueReply(`42`, id) {
		t.Fatalf("honest client %s: got %q, %v after %v", tag, clip(got), err, time.Since(start))
	}
	return time.Since(start)
}

// waitPeerClosed reads and discards from nc until the server closes it, and
// reports whether it did within d.
func waitPeerClosed(nc net.Conn, d time.Duration) bool {
	nc.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, nc)
	return err == nil || closedErr(err)
}

// eventually polls cond every 5ms for up to d.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func limits(s *rpc.Server) rpc.LimitMetrics { return s.GetMetrics().Limits }

// encodeCost is how long encoding v as a call's data takes here, now: a
// call encodes its data before its context can cut its write short, so a
// bound on how long a call takes to return must allow for it (a 32 MiB
// string under -race on a loaded machine takes seconds).
func encodeCost(t *testing.T, v any) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := wire.AppendJSON(nil, v); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}
