package main

// Memory at scale: what an idle connection costs a server. The server's
// VmRSS is read, then this process opens N connections to it, makes one
// small round trip ("sum" [1,2]) on each, waits, and reads VmRSS again:
// (after − before) / N is the resident memory per idle connection.

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/msgpattern/msgpattern/wire"
)

type memRow struct {
	target         string
	conns          int
	beforeKB       int
	afterKB        int
	perConnKiB     float64
	err            string
	roundTripsDone int
}

func runMemScale(ctx context.Context, o *options) []*memRow {
	logf("== memory at scale: %d idle connections", o.idleConns)
	var rows []*memRow
	for _, name := range []string{tMsgpattern, tCeiling, tNest} {
		row := &memRow{target: name, conns: o.idleConns}
		rows = append(rows, row)
		c, _, err := startTarget(o, name, smallPayload)
		if err != nil {
			row.err = err.Error()
			continue
		}
		memScaleOne(ctx, c, row, o.idleWait)
		c.kill()
		if row.err != "" {
			logf("   %-10s failed: %s", name, row.err)
		} else {
			logf("   %-10s VmRSS %d → %d KiB: %.1f KiB per idle connection", name, row.beforeKB, row.afterKB, row.perConnKiB)
		}
	}
	return rows
}

func memScaleOne(ctx context.Context, c *child, row *memRow, wait time.Duration) {
	time.Sleep(500 * time.Millisecond) // let start-up settle
	before, err := statusKB(c.pid, "VmRSS")
	if err != nil {
		row.err = err.Error()
		return
	}
	row.beforeKB = before

	conns := make([]net.Conn, row.conns)
	defer func() {
		for _, nc := range conns {
			if nc != nil {
				nc.Close()
			}
		}
	}()
	var next, done atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, 256)
			for {
				i := int(next.Add(1)) - 1
				if i >= len(conns) || ctx.Err() != nil || firstErr.Load() != nil {
					return
				}
				if err := idleRoundTrip(c.addr, &conns[i], buf, i); err != nil {
					firstErr.CompareAndSwap(nil, fmt.Errorf("connection %d: %w", i, err))
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	row.roundTripsDone = int(done.Load())
	if e, ok := firstErr.Load().(error); ok {
		row.err = fmt.Sprintf("after %d connections: %v", row.roundTripsDone, e)
		return
	}
	time.Sleep(wait)
	after, err := statusKB(c.pid, "VmRSS")
	if err != nil {
		row.err = err.Error()
		return
	}
	row.afterKB = after
	row.perConnKiB = float64(after-before) / float64(row.conns)
}

// idleRoundTrip dials, sends "sum" [1,2] and reads the reply; the
// connection stays open in *slot.
func idleRoundTrip(addr string, slot *net.Conn, buf []byte, i int) error {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	*slot = nc
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	id := fmt.Appendf(nil, "%d", i)
	if _, err := nc.Write(wire.AppendRequest(nil, wire.NestJS, []byte(`"sum"`), []byte(`[1,2]`), nil, id)); err != nil {
		return err
	}
	body, err := readFrame(nc, buf)
	if err != nil {
		return err
	}
	rep, ok, err := wire.ParseReply(body, 0)
	if err != nil || !ok || string(rep.Response) != "3" {
		return fmt.Errorf("bad reply %q", body)
	}
	nc.SetDeadline(time.Time{})
	return nil
}
