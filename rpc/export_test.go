package rpc

import "net"

// ServeConnForTest serves nc as an accepted connection on the calling
// goroutine until its reader stops: for the in-process benchmark, which
// feeds frames without a socket.
func ServeConnForTest(s *Server, nc net.Conn) { newConn(s, nc).readLoop() }

// ClientPendingForTest is how many ids (calls and heartbeat pings) the
// first connection of c has waiting for a reply; -1 before it connected.
func ClientPendingForTest(c *Client) int {
	cc := c.slots[0].current()
	if cc == nil {
		return -1
	}
	// Every shard locked at once: one instant's count (an id forgotten in
	// one shard and the next registered in another are not both counted).
	for i := range cc.pending.shards {
		cc.pending.shards[i].mu.Lock()
	}
	n := 0
	for i := range cc.pending.shards {
		n += len(cc.pending.shards[i].calls)
	}
	for i := range cc.pending.shards {
		cc.pending.shards[i].mu.Unlock()
	}
	return n
}

// ClientQueuedForTest is how many request bytes the first connection of c
// has waiting to be written.
func ClientQueuedForTest(c *Client) int {
	if cc := c.slots[0].current(); cc != nil {
		return cc.out.queuedBytes()
	}
	return 0
}

// SetTestHookDialed sets the hook run between a dial's closed check and
// its installing the connection; nil removes it.
func SetTestHookDialed(f func()) { testHookDialed = f }
