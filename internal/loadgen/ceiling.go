package loadgen

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"sync"

	"github.com/msgpattern/msgpattern/wire"
)

// CeilingReply is the fixed reply the ceiling server sends for every frame.
var CeilingReply = []byte(`46#{"response":3,"isDisposed":true,"id":"id-sum"}`)

// Ceiling is a server that speaks the NestJS framing and nothing more.
type Ceiling struct {
	ln   net.Listener
	wg   sync.WaitGroup
	echo bool
}

// StartCeiling listens on addr (e.g. "127.0.0.1:0") and answers every frame
// with CeilingReply until Close.
func StartCeiling(addr string) (*Ceiling, error) { return startCeiling(addr, false) }

// StartEchoCeiling is StartCeiling with one difference: the fixed reply
// {"response":3,"isDisposed":true,"id":…} carries the request's id, found
// from the end of the frame with no parsing, so that a load generator that
// matches replies by id (package loadtest) can drive it.
func StartEchoCeiling(addr string) (*Ceiling, error) { return startCeiling(addr, true) }

func startCeiling(addr string, echo bool) (*Ceiling, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &Ceiling{ln: ln, echo: echo}
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
			serveCeiling(nc, c.echo)
			mu.Lock()
			delete(open, nc)
			mu.Unlock()
			nc.Close()
		}()
	}
}

// serveCeiling answers each frame inline, flushing when no input is
// buffered: the same I/O pattern as the real server, minus everything else.
func serveCeiling(nc net.Conn, echo bool) {
	buf := make([]byte, 64<<10)
	out := bufio.NewWriterSize(nc, 64<<10)
	var sc wire.FrameScanner
	scratch := make([]byte, 0, 128)
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
			if !echo {
				out.Write(CeilingReply)
				continue
			}
			id := lastID(f.Body)
			if isASCII(id) { // one UTF-16 unit per byte: no need to count
				scratch = strconv.AppendInt(scratch[:0], int64(len(ceilingPrefix)+len(id)+1), 10)
				scratch = append(scratch, '#')
				out.Write(scratch)
				out.WriteString(ceilingPrefix)
				out.Write(id)
				out.WriteByte('}')
			} else {
				scratch = append(append(append(scratch[:0], ceilingPrefix...), id...), '}')
				out.Write(wire.AppendFrame(nil, wire.NestJS, scratch))
			}
		}
		if out.Flush() != nil {
			return
		}
		if r == w {
			r, w = 0, 0
		} else if w == len(buf) {
			if r == 0 { // a frame larger than the buffer: grow it
				nb := make([]byte, 2*len(buf))
				copy(nb, buf[:w])
				buf = nb
			} else {
				w = copy(buf, buf[r:w])
				r = 0
			}
		}
		n, err := nc.Read(buf[w:])
		if n == 0 && err != nil {
			return
		}
		w += n
	}
}

const ceilingPrefix = `{"response":3,"isDisposed":true,"id":`

// lastID returns the raw id of a request frame whose last member is "id"
// (as in every frame loadtest and loadgen send), looking back from its end;
// it falls back to a search for "id": otherwise, and to null.
func lastID(body []byte) []byte {
	end := len(body)
	for end > 0 && (body[end-1] == '}' || body[end-1] == ' ' || body[end-1] == '\n') {
		end--
	}
	i := bytes.LastIndexByte(body[:end], ':')
	if i >= 4 && string(body[i-4:i]) == `"id"` {
		return bytes.TrimLeft(body[i+1:end], " ")
	}
	if i = bytes.LastIndex(body, []byte(`"id":`)); i >= 0 {
		if v := value(bytes.TrimLeft(body[i+5:], " \t\r\n")); len(v) > 0 {
			return v
		}
	}
	return []byte("null")
}

// value returns the JSON value at the start of b: a string to its closing
// quote, an object or array to its matching bracket, anything else to the
// next ',', '}', ']' or space.
func value(b []byte) []byte {
	depth, inString := 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
				if depth == 0 {
					return b[:i+1]
				}
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return b[:i]
			}
			if depth--; depth == 0 {
				return b[:i+1]
			}
		case depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'):
			return b[:i]
		}
	}
	return b
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
