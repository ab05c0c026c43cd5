// Package streamtest is for tests of the clients' stream calls: a consumer
// that falls behind on purpose. rpc's and natsrpc's tests use it, so that
// both clients are held to the same stream-buffer bound the same way.
package streamtest

import (
	"encoding/json"
	"errors"
	"iter"
	"runtime"
	"testing"
	"time"
)

// SlowConsumer takes the first value of stream, then waits until sent is
// closed (the peer has sent everything) and pause more, then takes the
// rest as fast as it can. Every value must be size bytes long. It returns
// how many values it took and the error that ended the stream, if any.
func SlowConsumer(t testing.TB, stream iter.Seq2[json.RawMessage, error], size int, sent <-chan struct{}, pause time.Duration) (taken int, err error) {
	t.Helper()
	for v, err := range stream {
		if err != nil {
			return taken, err
		}
		if len(v) != size {
			t.Fatalf("value of %d bytes; want %d", len(v), size)
		}
		if taken++; taken == 1 {
			<-sent
			time.Sleep(pause)
		}
	}
	return taken, nil
}

// HeapAlloc is the live heap after a collection: what a stream call holds
// shows as its growth.
func HeapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// CheckOverflow checks how a stream consumed by SlowConsumer ended: with
// ErrStreamOverflow (want), having taken at most what a buffer of limit
// bytes holds of size-byte values, plus the first.
func CheckOverflow(t testing.TB, taken int, err, want error, limit, size int) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("stream ended with %v after %d values; want %v", err, taken, want)
	}
	if max := 1 + limit/size + 1; taken > max {
		t.Errorf("took %d values; want at most %d (the buffer limit)", taken, max)
	}
}
