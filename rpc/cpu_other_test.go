//go:build !unix

package rpc_test

import "time"

// processCPU cannot read the process's CPU time here: BenchmarkServeConn
// reports wall time alone.
func processCPU() (cpu time.Duration, ok bool) { return 0, false }
