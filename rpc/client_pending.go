package rpc

import "sync"

// pendingShards is how many parts a connection's table of pending calls is
// split into, each under a lock of its own. Every call takes its part's
// lock three times (registering, the reader delivering its reply, the
// caller reading it) and a connection carries a thousand callers or more:
// under one lock, callers and the reader queued for it (a sixth of the
// client's CPU went to that lock at 1,024 concurrent calls).
const (
	pendingShardBits = 4
	pendingShards    = 1 << pendingShardBits
)

// pendingTable maps the ids of a connection's pending calls (and its
// heartbeat ping) to them.
type pendingTable struct {
	shards [pendingShards]pendingShard
}

type pendingShard struct {
	mu    sync.Mutex
	calls map[uint64]*call // made on first use
	// Each shard's mu and calls on a cache line of their own: neighbouring
	// shards are locked by different goroutines at once. Go aligns the
	// table to 8 bytes, not 64, so a 64-byte stride would put one shard's
	// map on the line of the next one's lock whenever the table starts in
	// the last 8 bytes of a line (in a clientConn it does); 128 never does.
	_ [128 - 16]byte
}

// shard is where id's call is. Ids come from the Client's one counter, and
// a pool hands calls to its connections in turn, so one connection's ids
// may step by the pool's size: they are spread by Fibonacci hashing (the
// top bits of id × 2⁶⁴/φ), not by id mod 16, which would put all of them
// in one shard with a pool of 16.
func (t *pendingTable) shard(id uint64) *pendingShard {
	return &t.shards[(id*0x9E3779B97F4A7C15)>>(64-pendingShardBits)]
}

// put adds ca under id; the shard's lock is held.
func (sh *pendingShard) put(id uint64, ca *call) {
	if sh.calls == nil {
		sh.calls = make(map[uint64]*call)
	}
	sh.calls[id] = ca
}
