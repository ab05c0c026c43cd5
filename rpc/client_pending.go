package rpc

import "sync"

// pendingShards is how many parts a connection's table of pending calls is
// split into, each under a lock of its own. Every call takes its part's
// lock three times (registering, the reader delivering its reply, the
// caller reading it) and a connection carries a thousand callers or more:
// under one lock, callers and the reader queued for it (a sixth of the
// client's CPU went to that lock at 1,024 concurrent calls).
const pendingShards = 16

// pendingTable maps the ids of a connection's pending calls (and its
// heartbeat ping) to them. Ids come from one counter, so consecutive calls
// fall in different shards.
type pendingTable struct {
	shards [pendingShards]pendingShard
}

type pendingShard struct {
	mu    sync.Mutex
	calls map[uint64]*call // made on first use
	// Each shard on a cache line of its own: neighbouring shards are
	// locked by different goroutines at once.
	_ [64 - 16]byte
}

func (t *pendingTable) shard(id uint64) *pendingShard {
	return &t.shards[id%pendingShards]
}

// put adds ca under id; the shard's lock is held.
func (sh *pendingShard) put(id uint64, ca *call) {
	if sh.calls == nil {
		sh.calls = make(map[uint64]*call)
	}
	sh.calls[id] = ca
}
