//go:build race

package pattern_test

// The race detector makes sync.Pool drop items at random, so allocation
// counts of pooled paths mean nothing under it.
func init() { raceEnabled = true }
