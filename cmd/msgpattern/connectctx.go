package main

import "context"

// connectUnder runs connect, which takes no context (rpc.NewClient's eager
// connect, nats.go's), apart, and returns ctx.Err() at once when ctx ends
// first (a signal); what it connects after that is closed.
func connectUnder[T interface{ Close() error }](ctx context.Context, connect func() (T, error)) (T, error) {
	type made struct {
		c   T
		err error
	}
	done := make(chan made, 1)
	go func() {
		c, err := connect()
		done <- made{c, err}
	}()
	select {
	case m := <-done:
		return m.c, m.err
	case <-ctx.Done():
		go func() {
			if m := <-done; m.err == nil {
				m.c.Close()
			}
		}()
		var zero T
		return zero, ctx.Err()
	}
}
