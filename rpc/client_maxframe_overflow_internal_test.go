package rpc

import (
	"errors"
	"math"
	"net"
	"strconv"
	"strings"
	"testing"
)

// emptyReadConn reports a Read with an empty buffer (which a net.Conn
// answers at once with 0, nil: a reader doing it again and again spins)
// and fails it, so that the reader stops.
type emptyReadConn struct {
	net.Conn
	empty chan struct{}
}

func (c *emptyReadConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		select {
		case c.empty <- struct{}{}:
		default:
		}
		return 0, errors.New("read with an empty buffer")
	}
	return c.Conn.Read(p)
}

// TestClientReadLongAnnouncedFrameNoOverflow: a client with no frame limit
// of its own (WithMaxFrameSize(math.MaxInt)) keeps growing its buffer for
// a frame announced as long as an int allows. The buffer's wanted size,
// what is buffered plus the units still missing, must not wrap negative:
// then the full buffer was never grown, and the reader called Read with no
// room, which returns 0, nil at once: it spun at 100% CPU until the
// heartbeat (if any) dropped the connection. On 32-bit platforms the
// header is "2147483647#", a length any server can send.
func TestClientReadLongAnnouncedFrameNoOverflow(t *testing.T) {
	c, err := NewClient("127.0.0.1:1", WithHeartbeat(0, 0), WithMaxFrameSize(math.MaxInt))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, b := net.Pipe()
	defer b.Close()
	ec := &emptyReadConn{Conn: a, empty: make(chan struct{}, 1)}
	cc := newClientConn(c, ec)
	defer func() {
		cc.fail(errors.New("test over"))
		<-cc.done
	}()
	// More than the reader's first 16 KiB buffer, in one write: the test
	// passes once the reader has taken all of it.
	frame := strconv.Itoa(math.MaxInt) + "#" + strings.Repeat("x", 64<<10)
	wrote := make(chan error, 1)
	go func() {
		_, err := b.Write([]byte(frame))
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatalf("write: %v", err)
		}
	case <-ec.empty:
		t.Fatal("the reader read with an empty buffer (its wanted size wrapped): it would spin")
	}
}
