package rpc_test

import (
	"math"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestPoolSizeTooLarge: WithPool with an absurd size is an error of
// NewClient, not a panic (makeslice: len out of range) or an allocation of
// gigabytes of slots.
func TestPoolSizeTooLarge(t *testing.T) {
	for _, n := range []int{rpc.MaxPoolSize + 1, math.MaxInt / 2, math.MaxInt} {
		c, err := rpc.NewClient("127.0.0.1:1", rpc.WithPool(n, false))
		if err == nil {
			c.Close()
			t.Errorf("WithPool(%d): no error", n)
		}
	}
	c, err := rpc.NewClient("127.0.0.1:1", rpc.WithPool(rpc.MaxPoolSize, false))
	if err != nil {
		t.Fatalf("WithPool(MaxPoolSize): %v", err)
	}
	c.Close()
}
