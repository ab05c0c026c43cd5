package rpc_test

import (
	"bufio"
	"cmp"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// trickleConn writes, once slow is set, a few bytes at a time: a peer on a
// slow link.
type trickleConn struct {
	net.Conn
	slow  atomic.Bool
	chunk int // bytes per 10 ms; 0 means 16
}

func (c *trickleConn) Write(b []byte) (int, error) {
	if !c.slow.Load() {
		return c.Conn.Write(b)
	}
	n := 0
	for n < len(b) {
		m := min(cmp.Or(c.chunk, 16), len(b)-n)
		k, err := c.Conn.Write(b[n : n+m])
		n += k
		if err != nil {
			return n, err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return n, nil
}

// TestTLSEvictBusyUploader: docs/SERVER.md evicts at MaxConnections only a
// connection that has been idle ("no byte read") for EvictIdleAfter. Over
// TLS the server counted only decrypted data as bytes read: a peer on a
// slow link (about 1.6 KB/s here) sending a request whose first TLS record
// takes longer than EvictIdleAfter to arrive looked idle the whole time,
// and was evicted (its request lost) for a newcomer, though bytes were
// arriving steadily. Over plain TCP the same peer is never evicted.
func TestTLSEvictBusyUploader(t *testing.T) {
	p := newTestPKI(t)
	s, _ := startServer(t, rpc.Config{
		MaxConnections: 1,
		EvictIdleAfter: 300 * time.Millisecond,
		TLSConfig:      p.serverConfig(false),
	}, func(s *rpc.Server) { registerProbe(s) })

	tc, upc := dialTrickling(t, s, p, 0, false)
	bystanderCheck(t, upc, "uploader")
	time.Sleep(400 * time.Millisecond) // idle for a while, then it uploads

	nums := strings.TrimSuffix(strings.Repeat("1,", 400), ",") // 800 bytes: one record
	tc.slow.Store(true)
	wrote := make(chan error, 1)
	go func() {
		_, err := upc.nc.Write([]byte(reqFrame(`"sum"`, "["+nums+"]", `"up"`)))
		wrote <- err
	}()
	// The record is on its way (it takes about 0.5 s): a newcomer arrives.
	time.Sleep(350 * time.Millisecond)
	nc, err := net.DialTimeout("tcp", s.Addr().String(), ioTimeout)
	if err == nil {
		t.Cleanup(func() { nc.Close() })
	}
	if err := <-wrote; err != nil {
		t.Fatalf("upload write: %v", err)
	}
	got, err := upc.readFrameErr(ioTimeout)
	if want := valueReply(strconv.Itoa(400), `"up"`); err != nil || got != want {
		t.Errorf("uploader, bytes arriving all along, got %q, %v; want %q", clip(got), err, want)
	}
	if m := s.GetMetrics(); m.Limits.EvictedIdle != 0 {
		t.Errorf("evicted_idle %d: the uploader was evicted as idle while its request arrived", m.Limits.EvictedIdle)
	}
}

// TestTLSSteadyRecordsNotStalled: FrameTimeout drops a peer silent for
// that long in the middle of a frame; "every chunk received restarts the
// wait, so a slow but progressing transfer is kept" (config.go). Over TLS
// the wait restarted only when a whole record had arrived and been
// decrypted: a peer sending a frame steadily, at 20 times MinFrameRate
// (about 10 KB/s), in 16 KiB records taking longer than FrameTimeout each,
// was dropped as stalled (limits.stalled_frames) mid-frame.
func TestTLSSteadyRecordsNotStalled(t *testing.T) {
	p := newTestPKI(t)
	s, _ := startServer(t, rpc.Config{
		FrameTimeout: time.Second,
		TLSConfig:    p.serverConfig(false),
	}, func(s *rpc.Server) { registerProbe(s) })

	// 16 KiB records, as after 128 KiB anyway.
	tc, upc := dialTrickling(t, s, p, 100, true)
	bystanderCheck(t, upc, "uploader")

	nums := strings.TrimSuffix(strings.Repeat("1,", 18000), ",") // 36 KB: 3 records
	tc.slow.Store(true)
	go upc.nc.Write([]byte(reqFrame(`"sum"`, "["+nums+"]", `"up"`)))
	got, err := upc.readFrameErr(30 * time.Second)
	if want := valueReply("18000", `"up"`); err != nil || got != want {
		m := s.GetMetrics()
		t.Errorf("steady uploader got %q, %v; want %q (stalled_frames %d)", clip(got), err, want, m.Limits.StalledFrames)
	}
}

// dialTrickling connects to s over TLS through a trickleConn of chunk
// bytes per 10 ms once slowed (0: 16), records of 16 KiB from the start
// with fullRecords.
func dialTrickling(t *testing.T, s *rpc.Server, p *testPKI, chunk int, fullRecords bool) (*trickleConn, *client) {
	t.Helper()
	raw, err := net.DialTimeout("tcp", s.Addr().String(), ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	tc := &trickleConn{Conn: raw, chunk: chunk}
	cfg := p.clientConfig(nil)
	cfg.ServerName = "127.0.0.1"
	cfg.DynamicRecordSizingDisabled = fullRecords
	up := tls.Client(tc, cfg)
	if err := up.Handshake(); err != nil {
		t.Fatal(err)
	}
	return tc, &client{t: t, nc: up, br: bufio.NewReader(up)}
}
