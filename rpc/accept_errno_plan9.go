package rpc

// acceptExhausted reports false: Plan 9's errors are strings, and its
// Temporary ones are retried anyway.
func acceptExhausted(error) bool { return false }
