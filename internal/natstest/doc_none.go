//go:build aix || plan9 || (freebsd && !cgo && !amd64 && !arm64)

// Package natstest is for tests that need NATS. nats-server does not build
// on this platform, so the package is empty here (see natstest.go).
package natstest
