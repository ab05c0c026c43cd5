package loadgen

import (
	"bufio"
	"net"
	"sync"

	"github.com/msgpattern/msgpattern/wire"
)

// CeilingReply is the fixed reply the ceiling server sends for every frame.
var CeilingReply = []byte(`46#{"response":3,"isDisposed":true,"id":"id-sum"}`)

// Ceiling is a server that speaks the NestJS framing and nothing more.
type Ceiling struct {
	ln net.Listener
	wg sync.WaitGroup
}

// StartCeiling listens on addr (e.g. "127.0.0.1:0") and serves until Close.
func StartCeiling(addr string) (*Ceiling, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &Ceiling{ln: ln}
	c.wg.Add(1)
	go c.accept()
	return c, nil
}

// Addr is the listening address.
func (c *Ceiling) Addr() string { return c.ln.Addr().String() }

// Close stops the server and waits for its goroutines.
func (c *Ceiling) Close() error {
	err := c.ln.Close()
	c.wg.Wait()
	return err
}

func (c *Ceiling) accept() {
	defer c.wg.Done()
	var conns sync.WaitGroup
	var mu sync.Mutex
	open := map[net.Conn]struct{}{}
	defer func() {
		mu.Lock()
		for nc := range open {
			nc.Close()
		}
		mu.Unlock()
		conns.Wait()
	}()
	for {
		nc, err := c.ln.Accept()
		if err != nil {
			return
		}
		mu.Lock()
		open[nc] = struct{}{}
		mu.Unlock()
		conns.Add(1)
		go func() {
			defer conns.Done()
			serveCeiling(nc)
			mu.Lock()
			delete(open, nc)
			mu.Unlock()
			nc.Close()
		}()
	}
}

// serveCeiling answers each frame inline, flushing when no input is
// buffered: the same I/O pattern as the real server, minus everything else.
func serveCeiling(nc net.Conn) {
	buf := make([]byte, 64<<10)
	out := bufio.NewWriterSize(nc, 64<<10)
	var sc wire.FrameScanner
	r, w := 0, 0
	for {
		for {
			f, err := sc.Scan(buf[r:w])
			if err != nil {
				return
			}
			if f.Len == 0 {
				break
			}
			r += f.Len
			out.Write(CeilingReply)
		}
		if out.Flush() != nil {
			return
		}
		if r == w {
			r, w = 0, 0
		} else if w == len(buf) {
			w = copy(buf, buf[r:w])
			r = 0
		}
		n, err := nc.Read(buf[w:])
		if n == 0 && err != nil {
			return
		}
		w += n
	}
}
