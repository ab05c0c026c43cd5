package rpc

import (
	"testing"
	"unsafe"
)

// TestPendingShardsDoNotShareCacheLines: pendingShard's padding keeps each
// shard's lock and map on a cache line of their own, so that goroutines
// locking neighbouring shards do not bounce one line between cores. Go
// aligns a struct field to 8 bytes, not 64: wherever the table lands, no
// two shards' hot words (mu and calls) may share a 64-byte line.
func TestPendingShardsDoNotShareCacheLines(t *testing.T) {
	const line = 64
	stride := unsafe.Sizeof(pendingShard{})
	hot := unsafe.Offsetof(pendingShard{}.calls) + unsafe.Sizeof(pendingShard{}.calls)
	for base := uintptr(0); base < line; base += 8 {
		for i := uintptr(0); i+1 < pendingShards; i++ {
			lastOfI := (base + i*stride + hot - 1) / line
			firstOfNext := (base + (i+1)*stride) / line
			if lastOfI == firstOfNext {
				t.Fatalf("table at %d mod 64: shard %d's map and shard %d's lock share a cache line (stride %d bytes)", base, i, i+1, stride)
			}
		}
	}
}

// TestPendingShardsSpreadPooledIds: with a pool of 16 connections taking
// calls in turn, one connection's ids step by 16; they must still spread
// over the shards, or that connection's calls all queue on one lock.
func TestPendingShardsSpreadPooledIds(t *testing.T) {
	for _, step := range []uint64{1, 2, 4, 8, 16, 32} {
		var tab pendingTable
		used := map[*pendingShard]int{}
		for i := range uint64(1024) {
			used[tab.shard(7+i*step)]++
		}
		if len(used) != pendingShards {
			t.Errorf("ids stepping by %d fall in %d of %d shards", step, len(used), pendingShards)
		}
		for sh, n := range used {
			if n > 3*1024/pendingShards {
				t.Errorf("ids stepping by %d: %d of 1024 in one shard (%p)", step, n, sh)
			}
		}
	}
}
