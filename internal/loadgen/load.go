package loadgen

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/msgpattern/msgpattern/wire"
)

// SumFrame is the request the load sends: pattern "sum", data [1,2].
var SumFrame = []byte(`44#{"pattern":"sum","data":[1,2],"id":"id-sum"}`)

// Result is what one run measured.
type Result struct {
	Requests int
	Elapsed  time.Duration
}

// PerSecond is the throughput of the run.
func (r Result) PerSecond() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// Run sends total requests (frame, repeated) to addr over conns connections
// with inflight requests outstanding on each, and waits for every reply.
// Replies are framed but not parsed, so the client costs the same whatever
// the server.
func Run(addr string, conns, inflight, total int, frame []byte) (Result, error) {
	ncs := make([]net.Conn, conns)
	for i := range ncs {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			for _, c := range ncs[:i] {
				c.Close()
			}
			return Result{}, err
		}
		ncs[i] = nc
	}
	defer func() {
		for _, nc := range ncs {
			nc.Close()
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	start := time.Now()
	for i, nc := range ncs {
		per := total / conns // and one more for the first total%conns
		if i < total%conns {
			per++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := drive(nc, inflight, per, frame); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	res := Result{Requests: total, Elapsed: time.Since(start)}
	close(errs)
	return res, <-errs
}

// drive keeps inflight requests outstanding on nc until n replies came.
func drive(nc net.Conn, inflight, n int, frame []byte) error {
	credits := make(chan int, inflight)
	readErr := make(chan error, 1)
	go func() { readErr <- readReplies(nc, n, credits) }()
	batch := make([]byte, 0, len(frame)*inflight)
	sent := 0
	window := min(inflight, n)
	for i := 0; i < window; i++ {
		batch = append(batch, frame...)
	}
	for sent < n {
		k := min(len(batch)/len(frame), n-sent)
		if _, err := nc.Write(batch[:k*len(frame)]); err != nil {
			return err
		}
		sent += k
		if sent >= n {
			break
		}
		// Wait until some replies came back, then refill the window.
		select {
		case got := <-credits:
			k = got
		case err := <-readErr:
			if err == nil {
				err = errors.New("loadgen: reader stopped early")
			}
			return err
		}
	drain:
		for {
			select {
			case more := <-credits:
				k += more
			default:
				break drain
			}
		}
		batch = batch[:0]
		for i := 0; i < min(k, n-sent); i++ {
			batch = append(batch, frame...)
		}
	}
	return <-readErr
}

func readReplies(nc net.Conn, n int, credits chan<- int) error {
	buf := make([]byte, 64<<10)
	var sc wire.FrameScanner
	r, w, got := 0, 0, 0
	for got < n {
		done := 0
		for {
			f, err := sc.Scan(buf[r:w])
			if err != nil {
				return err
			}
			if f.Len == 0 {
				break
			}
			r += f.Len
			done++
		}
		if done > 0 {
			got += done
			select {
			case credits <- done:
			default:
				// the writer is behind; it will collect on its next wait
				go func(d int) { credits <- d }(done)
			}
		}
		if got >= n {
			return nil
		}
		if r == w {
			r, w = 0, 0
		} else if w == len(buf) {
			w = copy(buf, buf[r:w])
			r = 0
		}
		m, err := nc.Read(buf[w:])
		if m == 0 && err != nil {
			return fmt.Errorf("loadgen: after %d of %d replies: %w", got, n, err)
		}
		w += m
	}
	return nil
}
